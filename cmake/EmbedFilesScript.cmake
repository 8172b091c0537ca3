# Writes a C++ source file holding the bytes of several files, run at build time:
#   cmake -DOUTPUT=out.cc -DNAMES="a.js;b.css" -DFILES="/path/a.js;/path/b.css" -P EmbedFilesScript.cmake
# The generated file defines coreclean::web::detail::kEmbeddedFiles (see src/web/web_assets.h).
# Bytes are written as hex arrays (not string literals), so any content embeds as is.
list(LENGTH NAMES count)
set(body "// Generated at build time from the web front end; do not edit.\n#include \"web/web_assets.h\"\n\nnamespace coreclean::web::detail {\nnamespace {\n")
set(table "")
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  list(GET NAMES ${i} name)
  list(GET FILES ${i} file)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x..,){32})" "\\1\n" bytes "${bytes}")
  string(APPEND body "const unsigned char file_${i}[] = {\n${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", {reinterpret_cast<const char*>(file_${i}), ${size}}},\n")
endforeach()
string(APPEND body "}  // namespace\n\nconst EmbeddedFile kEmbeddedFiles[] = {\n${table}};\nconst std::size_t kEmbeddedFileCount = ${count};\n\n}  // namespace coreclean::web::detail\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
