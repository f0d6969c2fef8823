# The hub layer: naming, settings, cache layout, push/download against an in-process server on a
# free loopback port (label net: loopback only, it runs in CI).
am_add_test(test_hub SOURCES ${CMAKE_SOURCE_DIR}/tests/test_hub.c LABELS net)
# Hostile input on both sides: a scripted fake server for the client, hostile requests for ours.
am_add_test(test_hub_hostile SOURCES ${CMAKE_SOURCE_DIR}/tests/test_hub_hostile.c LABELS net)
# The official JavaScript client against our server. npm installs the pinned package into the
# build tree; a failed install fails the test (label net: it needs the npm registry).
find_program(AM_NODE node)
find_program(AM_NPM npm)
if(AM_NODE AND AM_NPM)
  add_test(NAME test_hub_js_client
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/hub/run_js_client.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(test_hub_js_client PROPERTIES LABELS net TIMEOUT 600 ENVIRONMENT "${AM_TEST_ENV}")
else()
  # no node/npm: a test that fails and says why, rather than silently missing
  add_test(NAME test_hub_js_client COMMAND sh -c "echo 'FAILED: node and npm are needed for the @huggingface/hub client test' >&2; exit 1")
  set_tests_properties(test_hub_js_client PROPERTIES LABELS net)
endif()
am_add_test(test_hub_model SOURCES ${CMAKE_SOURCE_DIR}/tests/test_hub_model.c LABELS net)
# The download client under interruption, corruption and outages (issue 18): a scripted loopback
# responder that counts the bytes it serves, the CLI killed mid-file and rerun (resume with Range),
# LFS sha256 against the ETag, backoff on 503/429 and a server that comes up late, and a dead
# endpoint bounded by AM_HUB_RETRY_TIMEOUT (~10 s of waiting by design).
am_add_test(test_hub_resume SOURCES ${CMAKE_SOURCE_DIR}/tests/test_hub_resume.c LABELS net)
# Issue 18, the server half: one upload per LFS ticket, bodies authorised on the headers, slow
# loris, orphan temp files, NUL / invalid UTF-8 in JSON, --fsck, one server per ROOT (loopback,
# bounded loops; about 15 s).
am_add_test(test_hub_reliability SOURCES ${CMAKE_SOURCE_DIR}/tests/test_hub_reliability.c LABELS net)
# Issue 17: huggingface_hub's (Python) upload requests replayed byte for byte from
# tests/fixtures/hub/pyclient (create_repo, preupload, the Basic-auth LFS batch, basic and multipart
# transfers, completion, verify, NDJSON commit), the upload read back; Basic auth on every endpoint.
find_program(AM_SYS_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(AM_SYS_PYTHON3)
  add_test(NAME test_hub_pyclient
           COMMAND ${AM_SYS_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/hub/pyclient_replay.py $<TARGET_FILE:automodel> ${CMAKE_SOURCE_DIR})
  set_tests_properties(test_hub_pyclient PROPERTIES LABELS net TIMEOUT 120 ENVIRONMENT "${AM_TEST_ENV}")
else()
  add_test(NAME test_hub_pyclient COMMAND sh -c "echo 'FAILED: /usr/bin/python3 is needed for the huggingface_hub replay test' >&2; exit 1")
  set_tests_properties(test_hub_pyclient PROPERTIES LABELS net)
endif()
