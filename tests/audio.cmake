# Audio input and feature extractors (src/audio): decodes against ffmpeg 5.1's, bad files, and
# transformers 4.32's Wav2Vec2 / Whisper feature extractors on every audio case of fixtures/processors.
am_add_test(test_audio_io SOURCES ${CMAKE_SOURCE_DIR}/tests/test_audio_io.c)
# `automodel preprocess MODEL --audio ...`: every audio case through the CLI, refusals.
am_add_test(test_audio_cli SOURCES ${CMAKE_SOURCE_DIR}/tests/test_audio_cli.c)
# Fuzzing the audio decoders (in memory) and preprocessor_config.json + call kwargs of the feature
# extractors (replayed over the corpus without clang).
am_add_fuzz(fuzz_audio ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_audio.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/audio)
am_add_fuzz(fuzz_feature_extractor ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_feature_extractor.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/feature_extractor)
