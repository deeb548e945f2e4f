#!/usr/bin/env bash
# Optional: installs Jepsen's JVM Maelstrom next to the project, for machines
# with internet access and Java 11+. Never run by CI: the project's own Go
# grader (bin/maelstrom) is the default everywhere.
#
#   scripts/install-maelstrom.sh [VERSION]     (default v0.2.4)
#   make track-gossiper MAELSTROM=$PWD/.maelstrom/maelstrom/maelstrom
#
# The JVM Maelstrom knows only its own workloads and the partition fault;
# scripts/grade-track.sh skips the stages it cannot grade.
set -euo pipefail
version=${1:-v0.2.4}
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.maelstrom"
command -v java >/dev/null || { echo "java not found: the JVM Maelstrom needs Java 11 or newer" >&2; exit 1; }
mkdir -p "$dest"
url="https://github.com/jepsen-io/maelstrom/releases/download/$version/maelstrom.tar.bz2"
echo "downloading $url"
curl -fsSL "$url" -o "$dest/maelstrom.tar.bz2"
tar -xjf "$dest/maelstrom.tar.bz2" -C "$dest"
echo "installed: $dest/maelstrom/maelstrom"
echo "gnuplot and graphviz are needed for its plots (e.g. apt-get install gnuplot graphviz)"
echo "use it with: make track-<name> MAELSTROM=$dest/maelstrom/maelstrom"
