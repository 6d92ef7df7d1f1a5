# cmake -DGDR=<path to gdr> -DMIN_MUTANTS=<n> -P check_mutant_catalog.cmake
# `gdr mutate --list` must print at least MIN_MUTANTS lines "<name> <bug class>", every
# name a unique identifier and every bug class non-empty; it needs no GPU.
cmake_minimum_required(VERSION 3.25)  # IN_LIST
set(ENV{CUDA_VISIBLE_DEVICES} "-1")
execute_process(COMMAND ${GDR} mutate --list RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "gdr mutate --list exited with ${code}: ${err}")
endif()
string(REGEX REPLACE "\n$" "" out "${out}")
string(REPLACE ";" "," out "${out}")  # list-safe
string(REPLACE "\n" ";" lines "${out}")
set(names "")
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^(mutant:[a-z0-9_]+) +([^ ].*)$")
    message(FATAL_ERROR "not '<name> <bug class>': '${line}'")
  endif()
  if(CMAKE_MATCH_1 IN_LIST names)
    message(FATAL_ERROR "mutant name listed twice: ${CMAKE_MATCH_1}")
  endif()
  list(APPEND names ${CMAKE_MATCH_1})
endforeach()
list(LENGTH names count)
if(count LESS MIN_MUTANTS)
  message(FATAL_ERROR "${count} mutants listed, expected at least ${MIN_MUTANTS}")
endif()
message("${count} mutants, unique names, each with a bug class")
