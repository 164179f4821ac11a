#!/bin/sh
# Stand-in for DockerExtension 1.x's util/run-in-background.sh. The real one backgrounded the
# operation (nohup ... &) and returned; this one runs it in the foreground so that a test sees the
# state 1.x left once the agent's step is over.
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 bin/docker-extension "$@"
