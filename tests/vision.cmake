# Image input and image processors (src/vision): decoders against PIL's pixels, bad files, Pillow's
# resize and transformers 4.32's image processors on every image case of fixtures/processors.
am_add_test(test_vision_io SOURCES ${CMAKE_SOURCE_DIR}/tests/test_vision_io.c)
# Fuzzing the image decoders and preprocessor_config.json (replayed over the corpus without clang).
am_add_fuzz(fuzz_image ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_image.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/image)
am_add_fuzz(fuzz_image_processor ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_image_processor.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/image_processor)
# `automodel preprocess`: every image case through the CLI, flags overriding the config, refusals.
am_add_test(test_vision_cli SOURCES ${CMAKE_SOURCE_DIR}/tests/test_vision_cli.c)
