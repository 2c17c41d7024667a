# Fuzz target of ccm-watch's renderers (claim payload -> JSON, CSV, 837P, FHIR).
# Its seed corpus (packed hand-built claims) is written at test time by
# test_render_sample, then replayed as an ordinary test.
add_executable(fuzz_render ${CMAKE_CURRENT_LIST_DIR}/fuzz_render.c
                           ${CMAKE_CURRENT_LIST_DIR}/replay_main.c)
target_link_libraries(fuzz_render PRIVATE ccm_render ccm_warnings)
set(render_corpus ${CMAKE_CURRENT_BINARY_DIR}/corpus_render)
add_test(NAME fuzz_render
         COMMAND sh -c "mkdir -p '${render_corpus}' && '$<TARGET_FILE:test_render_sample>' \
'${render_corpus}/o.x12' '${render_corpus}/r.x12' '${render_corpus}' && \
rm -f '${render_corpus}/o.x12' '${render_corpus}/r.x12' && \
'$<TARGET_FILE:fuzz_render>' '${render_corpus}'")
