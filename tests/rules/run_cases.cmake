# Runs `ccmctl evaluate` (EVAL = the ccmctl binary) on every CASES/<name>.json. <name>.expect holds
# "exit N" on its first line, then substrings that must appear in the output
# (stdout with --json for exit 0, stderr otherwise). Also checks usage (exit 2)
# and reading the case from stdin.
file(GLOB cases ${CASES}/*.json)
set(failures 0)
foreach(case ${cases})
  get_filename_component(name ${case} NAME_WE)
  file(STRINGS ${CASES}/${name}.expect expect)
  list(POP_FRONT expect first)
  string(REPLACE "exit " "" want_rc "${first}")
  execute_process(COMMAND ${EVAL} evaluate --json ${case} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(text "${out}${err}")
  if(NOT rc EQUAL want_rc)
    message(SEND_ERROR "${name}: exit ${rc}, want ${want_rc}\n${text}")
    math(EXPR failures "${failures}+1")
    continue()
  endif()
  if(want_rc EQUAL 0)
    set(where "${out}")
  else()
    set(where "${err}")
  endif()
  foreach(needle IN LISTS expect)
    string(FIND "${where}" "${needle}" pos)
    if(pos EQUAL -1)
      message(SEND_ERROR "${name}: output lacks '${needle}'\n${text}")
      math(EXPR failures "${failures}+1")
    endif()
  endforeach()
endforeach()

# usage errors exit 2
foreach(args "" "--bogus" "a.json;b.json" "--fees")
  execute_process(COMMAND ${EVAL} evaluate ${args} RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 2)
    message(SEND_ERROR "usage '${args}': exit ${rc}, want 2")
    math(EXPR failures "${failures}+1")
  endif()
endforeach()

# '-' reads stdin; human-readable output by default
execute_process(COMMAND ${EVAL} evaluate - INPUT_FILE ${CASES}/example_issue.json
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(FIND "${out}" "claim:   99490 x1" pos)
if(NOT rc EQUAL 0 OR pos EQUAL -1)
  message(SEND_ERROR "stdin: exit ${rc}\n${out}${err}")
  math(EXPR failures "${failures}+1")
endif()

# a missing fee directory is an error (exit 1), not a silent zero amount
execute_process(COMMAND ${EVAL} evaluate ${CASES}/example_issue.json --fees ${CASES}/no-such-dir
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
string(FIND "${err}" "fees:" pos)
if(NOT rc EQUAL 1 OR pos EQUAL -1)
  message(SEND_ERROR "--fees missing dir: exit ${rc}\n${err}")
  math(EXPR failures "${failures}+1")
endif()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} evaluate check(s) failed")
endif()
list(LENGTH cases n)
message(STATUS "${n} evaluate cases passed")
