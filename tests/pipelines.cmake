# Pipelines (src/pipelines, cli/cmd_pipelines.c, examples/): post-processing on the fixture models,
# the sms-spam-bert test split through the CLI batch mode, and the example program.
am_add_test(test_pipelines SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pipelines.c)
am_add_test(test_pipelines_sms SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pipelines_sms.c ARGS ${CMAKE_SOURCE_DIR}/models/sms-spam-bert)

# examples/: built like a user's program (public header, the library) and run on the demo model.
add_executable(example_classify ${CMAKE_SOURCE_DIR}/examples/classify.c)
target_link_libraries(example_classify PRIVATE automodel_static m)
add_test(NAME example_classify COMMAND example_classify ${CMAKE_SOURCE_DIR}/models/sms-spam-bert
  "Congratulations! You have been selected to receive a FREE £500 gift voucher. Text WIN to 80086 now to claim your prize.")
set_tests_properties(example_classify PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV}" PASS_REGULAR_EXPRESSION "^spam \\(probability 0\\.99")
add_test(NAME example_classify_ham COMMAND example_classify ${CMAKE_SOURCE_DIR}/models/sms-spam-bert
  "Ok lor, I'm at home now. Call me when you reach.")
set_tests_properties(example_classify_ham PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "^ham \\(probability 0\\.99[0-9]+; logits 3\\.527[0-9] -3\\.380[0-9]\\)")
am_add_test(test_pipelines_gpt2 SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pipelines_gpt2.c ARGS ${CMAKE_SOURCE_DIR}/models/shakespeare-gpt2)
# The image pipelines (src/pipelines/vision.c, call.c) and `automodel pipeline`: every vision case of
# fixtures/pipelines_media through the CLI and the C API, the text pipelines through the generic command.
am_add_test(test_pipelines_vision SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pipelines_vision.c ${CMAKE_SOURCE_DIR}/tests/pipeline_cases.c)
# The audio pipelines (src/pipelines/audio.c, asr.c, call.c) and `automodel pipeline`: every audio case of
# fixtures/pipelines_media through the CLI and the C API, and the ASR decoders on the recorded model-call tokens.
am_add_test(test_pipelines_audio SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pipelines_audio.c ${CMAKE_SOURCE_DIR}/tests/pipeline_cases.c)
