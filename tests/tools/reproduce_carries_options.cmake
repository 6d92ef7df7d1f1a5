# cmake -DGDR=<gdr> -DTIGHT=<tolerance file> -DOUT=<folder> -P reproduce_carries_options.cmake
# A fuzz failure found with --tolerances TIGHT (a table the correct CPU stand-in cannot meet)
# must print a reproduce line and a replay file that carry the option, and following either
# must give the same verdict (INCORRECT, exit 1). As a control, the reproduce line without the
# option passes: the option is what decides.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${OUT})
set(ENV{GDR_REQUIRE_GPU} "0")
set(ENV{GDR_STRICT} "0")
execute_process(COMMAND ${GDR} fuzz --subject cpu-emulated-reversed --cases 20 --workers 1 --tolerances ${TIGHT} --out ${OUT}
                        --no-shrink --stop-at-first-failure
                RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 1)
  message(FATAL_ERROR "gdr fuzz with the tightened table: expected exit 1 (a failure), got ${code}\n${out}${err}")
endif()
string(REGEX MATCH "reproduce: gdr check [^\n]*" reproduce "${out}")
if(NOT reproduce)
  message(FATAL_ERROR "no reproduce line in:\n${out}")
endif()
string(REPLACE "reproduce: gdr " "" reproduce_args "${reproduce}")
if(NOT reproduce_args MATCHES "--tolerances ")
  message(FATAL_ERROR "the reproduce line lacks --tolerances: ${reproduce}")
endif()
# Follow the reproduce line (a POSIX shell reads its quoting).
execute_process(COMMAND sh -c "\"${GDR}\" ${reproduce_args}" RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 1 OR NOT out MATCHES "INCORRECT")
  message(FATAL_ERROR "following the reproduce line: expected INCORRECT, exit 1; got ${code}\n${out}${err}")
endif()
# Follow the replay file.
file(GLOB replays ${OUT}/*.json)
list(LENGTH replays count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "expected one replay file in ${OUT}, found ${count}")
endif()
file(READ ${replays} replay_text)
if(NOT replay_text MATCHES "\"tolerances\"")
  message(FATAL_ERROR "the replay file lacks the tolerance table:\n${replay_text}")
endif()
execute_process(COMMAND ${GDR} replay ${replays} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 1 OR NOT out MATCHES "INCORRECT")
  message(FATAL_ERROR "gdr replay: expected INCORRECT, exit 1; got ${code}\n${out}${err}")
endif()
# Control: the same case under the compiled-in table passes.
string(REGEX REPLACE " --tolerances [^ ]+" "" without_option "${reproduce_args}")
execute_process(COMMAND sh -c "\"${GDR}\" ${without_option}" RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "without --tolerances the case should pass (exit 0), got ${code}\n${out}${err}")
endif()
message("reproduce line and replay file carry --tolerances; both give INCORRECT; without it PASSED")
