# Precompiled headers: the third-party headers most files include (nlohmann/json, tl::expected,
# cpp-httplib, CLI11, Catch2) are parsed once per build directory, not once per file
# (docs/architecture.md, "Build"; the figures are in docs/performance.md, "Build and CI time").
#
# A set is compiled once, in a small OBJECT library of its own (pch_<set>), and every target given
# to caravan_use_pch(<set> ...) reuses it (REUSE_FROM). The sets only hold headers from Debian
# packages, never our own, so editing Caravan never rebuilds them; and a target uses a set only
# if it links every library whose headers the set holds (the server gets no mustache), so the
# layering of docs/architecture.md holds for third-party headers too.
#
# A compiler uses a precompiled header only when the macros defined on the command line that
# built it are defined the same way where it is used (extra macros are fine as long as the
# header never names them). So a set is built with no definitions of its own except httplib's
# CPPHTTPLIB_* (which every user of a set holding <httplib.h> has too), never a target's own
# CARAVAN_VERSION or CARAVAN_BINARY_DIR. A mismatch does not go unnoticed: g++ warns
# (-Winvalid-pch, an error under CARAVAN_WERROR) and clang stops.
#
# A set is included before a file's first line: a file that #defines a header's configuration
# before including it (CATCH_CONFIG_RUNNER) must be marked SKIP_PRECOMPILE_HEADERS.
#
# CARAVAN_PCH=OFF builds without them: each file then compiles from its own #include lines, which
# is how to check that a file includes what it uses (a precompiled set hides a missing one).
option(CARAVAN_PCH "Precompile the heavy third-party headers (cmake/pch.cmake)" ON)

# The standard headers nearly every file includes.
set(CARAVAN_PCH_STD <algorithm> <cstdint> <filesystem> <functional> <map> <memory> <optional>
  <string> <string_view> <vector>)

# caravan_pch_set(NAME HEADERS header... [LINK target...]): the set pch_NAME; LINK brings the
# include directories and definitions the headers need (PkgConfig::HTTPLIB for <httplib.h>).
function(caravan_pch_set name)
  cmake_parse_arguments(arg "" "" "HEADERS;LINK" ${ARGN})
  if(NOT CARAVAN_PCH)
    return()
  endif()
  # An OBJECT library needs a source of its own; this one is empty.
  set(source ${CMAKE_CURRENT_BINARY_DIR}/pch_${name}.cpp)
  file(CONFIGURE OUTPUT ${source} CONTENT "// The precompiled header set ${name} (cmake/pch.cmake).\n")
  add_library(pch_${name} OBJECT ${source})
  target_precompile_headers(pch_${name} PRIVATE ${arg_HEADERS})
  # caravan_warnings as every user has: -Wpedantic changes the predefined macros
  # (__cpp_runtime_arrays), which a precompiled header must share with its users.
  target_link_libraries(pch_${name} PRIVATE caravan_warnings ${arg_LINK})
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # Without a timestamp inside, ccache can cache clang's precompiled header and what uses it.
    target_compile_options(pch_${name} PRIVATE -Xclang -fno-pch-timestamp)
  endif()
endfunction()

# caravan_use_pch(NAME target...): those of the targets that exist use the set pch_NAME.
function(caravan_use_pch name)
  if(NOT CARAVAN_PCH)
    return()
  endif()
  foreach(target ${ARGN})
    if(TARGET ${target})
      target_precompile_headers(${target} REUSE_FROM pch_${name})
    endif()
  endforeach()
endfunction()
