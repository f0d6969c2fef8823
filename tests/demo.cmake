am_add_test(test_demo_sms SOURCES ${CMAKE_SOURCE_DIR}/tests/test_demo.c ARGS ${CMAKE_SOURCE_DIR}/models/sms-spam-bert)
# digits-vit: the 359 held-out images through `automodel pipeline image-classification`, against reference.json.
am_add_test(test_demo_digits SOURCES ${CMAKE_SOURCE_DIR}/tests/test_demo_digits.c ARGS ${CMAKE_SOURCE_DIR}/models/digits-vit)
# spoken-digits-wav2vec2: the 200 held-out clips through the model (logits and predictions of reference.json).
am_add_test(test_demo_spoken_digits SOURCES ${CMAKE_SOURCE_DIR}/tests/test_demo_spoken_digits.c ARGS ${CMAKE_SOURCE_DIR}/models/spoken-digits-wav2vec2)
# spoken-digits-wav2vec2 through `automodel pipeline audio-classification`: the held-out accuracy (200 / 200) and
# every clip's prediction and score as transformers' pipeline gave them.
am_add_test(test_demo_spoken_digits_pipeline SOURCES ${CMAKE_SOURCE_DIR}/tests/test_demo_spoken_digits_pipeline.c ARGS ${CMAKE_SOURCE_DIR}/models/spoken-digits-wav2vec2)
