# Compares (MODE=check) or copies (MODE=update) generated docs between the
# build tree (BINARY) and the source tree (SOURCE).
string(REPLACE "," ";" FILES "${FILES}")
foreach(file ${FILES})
  if(MODE STREQUAL "update")
    get_filename_component(dir ${SOURCE}/${file} DIRECTORY)
    file(MAKE_DIRECTORY ${dir})
    file(COPY_FILE ${BINARY}/${file} ${SOURCE}/${file})
  else()
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
      ${BINARY}/${file} ${SOURCE}/${file} RESULT_VARIABLE different)
    if(different)
      message(FATAL_ERROR "docs/${file} is out of date with the TableGen "
        "sources; run: cmake --build build --target raspc-docs-update")
    endif()
  endif()
endforeach()
