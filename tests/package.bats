#!/usr/bin/env bats
# The Debian packaging (debian/) and the container recipes
# (examples/container/): the version the package says is the tree's, the
# paths they name are where the build and the package put things, the
# loader's $LIB in the drop-in's LD_PRELOAD finds the library, and the
# logrotate snippet (examples/logrotate/) rotates a log being written.  With
# RESETGUARD_DEB_DIR (set by .ci/deb after it built the packages) the
# packages themselves are unpacked and run; with a working docker daemon
# the images are built and their servers asked.

setup_file() {
	MULTIARCH=$(${CC:-cc} -print-multiarch)
	export MULTIARCH
	# The tree installed as the package installs it (debian/rules: PREFIX,
	# LIBDIR), unoptimised (quicker).
	make -C "$BATS_TEST_DIRNAME/.." --no-print-directory -j2 BUILD="$BATS_FILE_TMPDIR/build" \
		CFLAGS=-O0 PREFIX=/usr LIBDIR="/usr/lib/$MULTIARCH" DESTDIR="$BATS_FILE_TMPDIR/root" \
		install >/dev/null
}

setup() {
	load helpers/common
	REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	STAGED=$BATS_FILE_TMPDIR/root
	DROPIN=$STAGED/usr/share/doc/resetguard/examples/systemd/resetguard.conf
}

# The value of the last `ENV NAME=value` of a Dockerfile, its escapes undone.
dockerfile_env() {
	sed -n "s/^ENV $2=//p" "$1" | tail -n 1 | sed 's/\\\$/$/g'
}

# The sources of a Dockerfile's COPY lines (not those from another stage).
dockerfile_copies() {
	awk '$1 == "COPY" && $2 !~ /^--from=/ { for (i = 2; i < NF; i++) print $i }' "$1"
}

# The drop-in as debian/rules rewrites it.
package_dropin() {
	sed -f "$REPO/debian/systemd-dropin.sed" "$DROPIN"
}

@test "debian/changelog's version is the tree's (VERSION), with a Debian revision" {
	local version
	version=$(sed -n '1s/^resetguard (\([^)]*\)) .*/\1/p' "$REPO/debian/changelog")
	[[ $version =~ ^(.+)-[0-9]+$ ]] || fail "no upstream-revision version in debian/changelog: '$version'"
	assert_equal "${BASH_REMATCH[1]}" "$(cat "$REPO/VERSION")"
}

@test "the suite in a packager's environment (debian/rules exports PREFIX and LIBDIR; make test's command line in MAKEFLAGS): the tests that run make see the Makefile's defaults" {
	PREFIX=/usr LIBDIR=/usr/lib/$MULTIARCH MAKEFLAGS="PREFIX=/usr LIBDIR=/usr/lib/$MULTIARCH" \
		run "$REPO/tests/run" -f 'another PREFIX' "$REPO/tests/install.bats"
	assert_success
	assert_line --partial "1 passed, 0 failed"
}

@test "the package's drop-in: LD_PRELOAD=/usr/\$LIB/resetguard/libresetguard.so, and the loader's \$LIB finds the library installed under /usr/lib/<multiarch>" {
	run package_dropin
	assert_line 'Environment=LD_PRELOAD=/usr/$LIB/resetguard/libresetguard.so'
	refute_line --regexp '^Environment=LD_PRELOAD=/usr/lib/'
	local value
	value=$(package_dropin | sed -n 's/^Environment=LD_PRELOAD=//p')
	# The same line below the staged root: $LIB is the loader's, not ours.
	run -141 "$PROBE" write write
	LD_PRELOAD="$SAN_PRELOAD$STAGED$value" run "$PROBE" write write
	assert_success
	assert_line alive
	refute_output --partial "cannot be preloaded"
}

@test "debian.Dockerfile: COPYs each binary package debian/control builds; ENV LD_PRELOAD names the library where the package installs it" {
	local file=$REPO/examples/container/debian.Dockerfile pkg copies preload
	copies=$(dockerfile_copies "$file")
	for pkg in $(sed -n 's/^Package: //p' "$REPO/debian/control"); do
		grep -qx "${pkg}_\*.deb" <<<"$copies" || fail "$pkg not copied: $copies"
	done
	preload=$(dockerfile_env "$file" LD_PRELOAD)
	assert_equal "$preload" '/usr/$LIB/resetguard/libresetguard.so'
	grep -qx 'usr/lib/${DEB_HOST_MULTIARCH}/resetguard/libresetguard.so' \
		"$REPO/debian/libresetguard.install" || fail "libresetguard.install moved the library"
	[[ -f $STAGED${preload/\$LIB/lib/$MULTIARCH} ]] || fail "not installed: $preload"
}

@test "alpine.Dockerfile: what it COPYs exists, and builds and installs the library where ENV LD_PRELOAD names it" {
	local file=$REPO/examples/container/alpine.Dockerfile src tree=$BATS_TEST_TMPDIR/context preload
	mkdir "$tree"
	# Only what the recipe copies: enough for make all install.
	for src in $(dockerfile_copies "$file"); do
		[[ -e $REPO/$src ]] || fail "COPY $src: no such file in the tree"
		mkdir -p "$tree/$(dirname "$src")"
		cp -a "$REPO/$src" "$tree/$(dirname "$src")/"
	done
	# Into the copy's own build directory: not the one the suite tests,
	# which tests/run-sanitized names in BUILD.
	run env -u BUILD make -C "$tree" --no-print-directory -j2 CFLAGS=-O0 PREFIX=/usr \
		DESTDIR="$tree/out" all install
	assert_success
	preload=$(dockerfile_env "$file" LD_PRELOAD)
	grep -qx 'COPY --from=build /out/usr/ /usr/' "$file" || fail "the final stage copies something else"
	[[ $preload != *'$'* ]] || fail "musl's loader expands no \$ token: $preload"
	[[ -f $tree/out$preload ]] || fail "not installed: $preload"
	[[ -x $tree/out/usr/bin/resetguard ]]
}

@test "the .deb files (RESETGUARD_DEB_DIR): every file where it belongs; the packaged command preloads the packaged library" {
	local dir=${RESETGUARD_DEB_DIR:-}
	[[ -n $dir ]] || skip "no packages built (.ci/deb sets RESETGUARD_DEB_DIR)"
	local lib=/usr/lib/$MULTIARCH/resetguard/libresetguard.so root=$BATS_TEST_TMPDIR/root deb
	run bash -c "dpkg-deb -c '$dir'/libresetguard_*.deb | awk '\$1 !~ /^d/ { print \$6 }'"
	assert_output "./usr/lib/$MULTIARCH/pkgconfig/resetguard.pc
.$lib
./usr/share/doc/libresetguard/changelog.Debian.gz
./usr/share/doc/libresetguard/copyright
./usr/share/lintian/overrides/libresetguard"
	run bash -c "dpkg-deb -c '$dir'/resetguard_*.deb | awk '\$1 !~ /^d/ { print \$6 }'"
	assert_line ./usr/bin/resetguard
	assert_line ./usr/share/man/man1/resetguard.1.gz
	assert_line ./usr/share/man/man7/resetguard.7.gz
	assert_line ./usr/share/man/man5/resetguard.conf.5.gz
	assert_line ./usr/share/doc/resetguard/examples/systemd/resetguard.conf
	assert_line ./usr/share/doc/resetguard/examples/logrotate/resetguard
	for deb in "$dir"/*.deb; do dpkg-deb -x "$deb" "$root"; done
	# The packaged command finds the library below the root it runs from.
	run "$root/usr/bin/resetguard" sh -c 'echo "$LD_PRELOAD"'
	assert_output "$SAN_PRELOAD$root$lib"
	run "$root/usr/bin/resetguard" "$PROBE" write write
	assert_success
	assert_line alive
	run "$root/usr/bin/resetguard" --version
	assert_output "resetguard $(cat "$REPO/VERSION")"
	run grep '^Environment=LD_PRELOAD=' "$root/usr/share/doc/resetguard/examples/systemd/resetguard.conf"
	assert_output 'Environment=LD_PRELOAD=/usr/$LIB/resetguard/libresetguard.so'
}

@test "examples/logrotate/resetguard: logrotate rotates a log the library is writing; the library starts the new file itself, no record lost" {
	require logrotate
	local dir=$BATS_TEST_TMPDIR/logs pid i
	mkdir -m 0755 "$dir"
	# The snippet as installed, for this directory (logrotate wants a
	# configuration only its owner can write).
	sed "s|^/var/log/resetguard/|$dir/|" "$REPO/examples/logrotate/resetguard" >"$BATS_TEST_TMPDIR/rotate.conf"
	chmod 0644 "$BATS_TEST_TMPDIR/rotate.conf"
	RESETGUARD_LOG=$dir/probe.log RESETGUARD_LOG_RATE=0 "$RG" "$PROBE" -r 60 -i 50 read >/dev/null &
	pid=$!
	for i in $(seq 100); do [[ $(cat "$dir/probe.log" 2>/dev/null | wc -l) -ge 10 ]] && break; sleep 0.05; done
	run logrotate -f -s "$BATS_TEST_TMPDIR/rotate.state" "$BATS_TEST_TMPDIR/rotate.conf"
	assert_success
	[[ -s $dir/probe.log.1 ]] || fail "not rotated: $(ls "$dir")"
	wait "$pid"
	# delaycompress: the file the library may still have written to in its
	# last second stays plain; nocreate: the new file is the library's own.
	[[ -s $dir/probe.log ]] || fail "no new file at the configured path"
	assert_equal "$(stat -c %a "$dir/probe.log")" 640
	assert_equal "$(cat "$dir/probe.log" "$dir/probe.log.1" | grep -c 'event=reset')" 60
	# The next round compresses the first.
	run logrotate -f -s "$BATS_TEST_TMPDIR/rotate.state" "$BATS_TEST_TMPDIR/rotate.conf"
	assert_success
	[[ -s $dir/probe.log.2.gz && -s $dir/probe.log.1 && ! -e $dir/probe.log ]] || fail "second round: $(ls "$dir")"
}

# Builds an image, runs its server on a free port, asks it for a page and
# checks that the server (PID 1) has the library mapped.
try_image() {
	local name=$1 context=$2 port id
	run docker build -q -f "$REPO/examples/container/$name.Dockerfile" -t "resetguard-test-$name" "$context"
	assert_success
	port=$(free_port)
	id=$(docker run -d --rm -p "127.0.0.1:$port:8000" "resetguard-test-$name")
	# shellcheck disable=SC2064 # the id now
	trap "docker rm -f $id >/dev/null 2>&1" RETURN
	# docker's proxy accepts before the server listens: ask until it answers.
	run curl -sS --retry 30 --retry-all-errors --retry-delay 1 -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:$port/"
	assert_output 200
	run docker exec "$id" grep -c libresetguard /proc/1/maps
	assert_success
	refute_output 0
}

@test "the container recipes build and serve under resetguard (docker with a daemon)" {
	docker info >/dev/null 2>&1 || skip "no docker daemon"
	[[ -n ${RESETGUARD_DEB_DIR:-} ]] || skip "no packages built (.ci/deb sets RESETGUARD_DEB_DIR)"
	try_image debian "$RESETGUARD_DEB_DIR"
	try_image alpine "$REPO"
}
