# ONNX export (src/export). test_export: the written folder and every refusal, without ONNX
# Runtime. test_onnx_<case>: every text fixture case with a head exported at opsets 17 and 14,
# checked by the ONNX checker (Debian python3-onnx) and run through ONNX Runtime (npm
# onnxruntime-node, pinned, installed into the build tree by onnx_ort_install) against the case's
# transformers outputs and, at another sequence length, against automodel's forward (label net:
# the install needs the npm registry); test_onnx_generate_<case>: --with-past decoders reproduce the
# fixtures' greedy sequences through ORT; test_onnx_media_<case>: YOLOS / SegFormer / Wav2Vec2 pipelines_media
# cases, every stored model call (the pipeline's image sizes and sample counts) through ORT against transformers.
# Without node/npm they fail and say why, never skip.
am_add_test(test_export SOURCES ${CMAKE_SOURCE_DIR}/tests/test_export.c)
set(AM_ONNX_CASES bert_model bert_seqcls bert_tokcls bert_qa bert_mlm bert_causal distilbert_model distilbert_seqcls roberta_mlm roberta_causal
    gpt2_model gpt2_lm gpt2_seqcls gpt2_qa llama_lm llama_seqcls vit_imgcls
    yolos_det segformer_seg wav2vec2_audiocls)
# vision / audio pipelines_media cases: every stored model call (other image sizes, sample counts) through ORT
set(AM_ONNX_MEDIA_CASES object_detection_yolos object_detection_yolos_random_embeddings image_segmentation_segformer
    audio_classification_wav2vec2 asr_ctc_wav2vec2)
# decoders exported --with-past and driven token by token through ORT: the fixtures' greedy sequences
set(AM_ONNX_GEN_CASES gpt2_lm llama_lm)
# encoder-decoders (export/onnx_seq2seq.c): the heads without generation go through test_onnx_<case>
# above; the generation heads' Optimum files through run_s2s.sh (fixture outputs, the cache step by
# step, greedy sequences): test_onnx_s2s_<case>
list(APPEND AM_ONNX_CASES t5_qa t5_seqcls bart_qa bart_causal)
set(AM_ONNX_S2S_CASES t5_cg bart_cg whisper_cg vision_encoder_decoder)
# causal LMs without a greedy run in their fixture: each cached step's logits against the full forward
set(AM_ONNX_STEP_CASES bert_causal roberta_causal)
find_program(AM_NODE node)
find_program(AM_NPM npm)
if(AM_NODE AND AM_NPM)
  add_test(NAME onnx_ort_install COMMAND sh ${CMAKE_SOURCE_DIR}/tests/onnx/install_ort.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(onnx_ort_install PROPERTIES LABELS net TIMEOUT 600 FIXTURES_SETUP onnx_ort)
  foreach(c ${AM_ONNX_CASES})
    add_test(NAME test_onnx_${c}
             COMMAND sh ${CMAKE_SOURCE_DIR}/tests/onnx/run_case.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${c})
    set_tests_properties(test_onnx_${c} PROPERTIES LABELS net TIMEOUT 600 FIXTURES_REQUIRED onnx_ort ENVIRONMENT "${AM_TEST_ENV}")
  endforeach()
  foreach(c ${AM_ONNX_MEDIA_CASES})
    add_test(NAME test_onnx_media_${c}
             COMMAND sh ${CMAKE_SOURCE_DIR}/tests/onnx/run_media.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${c})
    set_tests_properties(test_onnx_media_${c} PROPERTIES LABELS net TIMEOUT 600 FIXTURES_REQUIRED onnx_ort ENVIRONMENT "${AM_TEST_ENV}")
  endforeach()
  add_test(NAME test_onnx_media_variants COMMAND sh ${CMAKE_SOURCE_DIR}/tests/onnx/run_media_variants.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(test_onnx_media_variants PROPERTIES LABELS net TIMEOUT 600 FIXTURES_REQUIRED onnx_ort ENVIRONMENT "${AM_TEST_ENV}")
  foreach(c ${AM_ONNX_GEN_CASES})
    add_test(NAME test_onnx_generate_${c}
             COMMAND sh ${CMAKE_SOURCE_DIR}/tests/onnx/run_generate.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${c})
    set_tests_properties(test_onnx_generate_${c} PROPERTIES LABELS net TIMEOUT 600 FIXTURES_REQUIRED onnx_ort ENVIRONMENT "${AM_TEST_ENV}")
  endforeach()
  foreach(c ${AM_ONNX_S2S_CASES})
    add_test(NAME test_onnx_s2s_${c}
             COMMAND sh ${CMAKE_SOURCE_DIR}/tests/onnx/run_s2s.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${c})
    set_tests_properties(test_onnx_s2s_${c} PROPERTIES LABELS net TIMEOUT 600 FIXTURES_REQUIRED onnx_ort ENVIRONMENT "${AM_TEST_ENV}")
  endforeach()
  foreach(c ${AM_ONNX_STEP_CASES})
    add_test(NAME test_onnx_generate_${c}
             COMMAND sh ${CMAKE_SOURCE_DIR}/tests/onnx/run_generate.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${c} steps)
    set_tests_properties(test_onnx_generate_${c} PROPERTIES LABELS net TIMEOUT 600 FIXTURES_REQUIRED onnx_ort ENVIRONMENT "${AM_TEST_ENV}")
  endforeach()
  add_test(NAME test_onnx_dtypes COMMAND sh ${CMAKE_SOURCE_DIR}/tests/onnx/run_dtypes.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(test_onnx_dtypes PROPERTIES LABELS net TIMEOUT 600 FIXTURES_REQUIRED onnx_ort ENVIRONMENT "${AM_TEST_ENV}")
else()
  add_test(NAME test_onnx_ort COMMAND sh -c "echo 'FAILED: node and npm are needed for the ONNX Runtime checks of the ONNX export' >&2; exit 1")
  set_tests_properties(test_onnx_ort PROPERTIES LABELS net)
endif()
