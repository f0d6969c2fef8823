# Fixture cases from transformers, one ctest each (tests/fixtures/models).
add_executable(test_models ${CMAKE_SOURCE_DIR}/tests/test_models.c ${CMAKE_SOURCE_DIR}/tests/harness.c)
target_include_directories(test_models PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(test_models PRIVATE automodel_static)
set(AM_MODEL_CASES bert_model bert_seqcls bert_tokcls bert_qa bert_mlm distilbert_model distilbert_seqcls roberta_mlm
    load_legacy_bin load_sharded_bin load_safetensors_precedence
    load_base_into_head load_head_into_base load_num_labels_override load_legacy_gamma_beta
    gpt2_model gpt2_lm gpt2_seqcls llama_lm t5_cg bart_cg load_bf16 load_fp16 load_sharded_safetensors
    bert_causal roberta_causal gpt2_qa llama_seqcls t5_seqcls t5_qa bart_qa bart_causal
    vit_imgcls yolos_det vision_encoder_decoder segformer_seg
    wav2vec2_audiocls whisper_cg)
foreach(c ${AM_MODEL_CASES})
  add_test(NAME model_${c} COMMAND test_models ${c})
  set_tests_properties(model_${c} PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV}" TIMEOUT 600)
endforeach()
# The same cases under each other attn_implementation (the plain runs above use the default, sdpa):
# eager (materialised probabilities) and flash_attention_2 (on CPU the fused kernel, by its name).
foreach(c ${AM_MODEL_CASES})
  add_test(NAME model_${c}_eager COMMAND test_models ${c})
  set_tests_properties(model_${c}_eager PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_TEST_ATTN=eager" TIMEOUT 600)
  add_test(NAME model_${c}_flash COMMAND test_models ${c})
  set_tests_properties(model_${c}_flash PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_TEST_ATTN=flash_attention_2" TIMEOUT 600)
endforeach()
# Vision models beyond the fixture cases: the YOLOS checkpoint with random detection tokens and
# position embeddings (bicubic interpolation), ViT's interpolate_pos_encoding and input checks.
am_add_test(test_vision_models SOURCES ${CMAKE_SOURCE_DIR}/tests/test_vision_models.c)
# SegFormer's convolutions without oneDNN: the portable loops of kernels/conv.c against the same fixture.
add_test(NAME model_segformer_seg_nodnnl COMMAND test_models segformer_seg)
set_tests_properties(model_segformer_seg_nodnnl PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_NO_DNNL=1" TIMEOUT 600)
# Wav2Vec2 beyond the fixture case: the CTC and audio-classification checkpoints of
# fixtures/pipelines_media (model_level references, every pipeline model call), input checks,
# training mode and refused configs.
am_add_test(test_audio_models SOURCES ${CMAKE_SOURCE_DIR}/tests/test_audio_models.c)
# Whisper beyond whisper_cg: the full-vocabulary checkpoint's model_level references, the tokens of every
# ASR pipeline model call whose input_features are stored (fixtures/pipelines_media/asr_whisper_*), and
# the Whisper generate options (language, task, timestamps).
am_add_test(test_whisper SOURCES ${CMAKE_SOURCE_DIR}/tests/test_whisper.c)
