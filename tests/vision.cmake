# Image input and image processors (src/vision): decoders against PIL's pixels, bad files, Pillow's
# resize and transformers 4.32's image processors on every image case of fixtures/processors.
am_add_test(test_vision_io SOURCES ${CMAKE_SOURCE_DIR}/tests/test_vision_io.c)
