# 7/MDP + 8/MMI conformance of ccm-broker against independently written Python peers.
add_test(NAME system_mdp_conformance
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_mdp_conformance.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_mdp_conformance PROPERTIES TIMEOUT 300)
