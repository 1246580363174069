// Record ids: UUIDv7 shape and time order, and no id handed out twice, also across a fork (ids
// draw on a per-thread pool of random bytes that a forked child must not share).

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

#include "caravan/client/ids.hpp"

using namespace caravan::client;

TEST_CASE("uuid_v7 ids are well formed, ordered by time and never repeat", "[client][ids]") {
    std::set<std::string> seen;
    std::string previous;
    for (int i = 0; i < 20000; ++i) { // five refills of the random pool
        std::string id = uuid_v7(1715680800000 + i);
        REQUIRE(is_uuid(id));
        CHECK(id[14] == '7');
        CHECK(std::string("89ab").find(id[19]) != std::string::npos);
        CHECK(id > previous);
        CHECK(seen.insert(id).second);
        previous = id;
    }
}

TEST_CASE("a forked child makes ids its parent does not make", "[client][ids]") {
    (void)uuid_v7(1715680800000); // the parent's pool now holds unused bytes
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        std::string id = uuid_v7(1715680800000);
        ssize_t n = write(pipe_fds[1], id.data(), id.size());
        _exit(n == static_cast<ssize_t>(id.size()) ? 0 : 1);
    }
    close(pipe_fds[1]);
    std::string from_child(36, '\0');
    ssize_t got = 0;
    while (got < 36) {
        ssize_t n = read(pipe_fds[0], from_child.data() + got, 36 - static_cast<size_t>(got));
        if (n <= 0) {
            break;
        }
        got += n;
    }
    close(pipe_fds[0]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(got == 36);
    std::string from_parent = uuid_v7(1715680800000);
    // Same millisecond: only the random bits can tell them apart.
    CHECK(from_child != from_parent);
}
