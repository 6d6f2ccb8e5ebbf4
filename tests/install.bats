#!/usr/bin/env bats
# Building and installing as a packager does: PREFIX, LIBDIR, DESTDIR and
# the builder's CPPFLAGS/CFLAGS/LDFLAGS honoured, the compiled-in library
# directory kept up to date, a pkg-config file, a drop-in that names the
# installed library, and a tarball that builds on its own.  The tests
# build the source tree into a directory of the file's own, unoptimised
# (quicker) except where optimisation is what is tested.

LIBDIR=/usr/lib/x86_64-linux-gnu

# make on its own, not as a part of the make that runs the suite (make
# test): no jobserver, no inherited variables.
smake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory "$@"
}

setup_file() {
	smake -C "$BATS_TEST_DIRNAME/.." -j2 BUILD="$BATS_FILE_TMPDIR/build" \
		CFLAGS=-O0 PREFIX=/usr LIBDIR=$LIBDIR all >/dev/null
}

setup() {
	load helpers/common
	REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	TB=$BATS_FILE_TMPDIR/build
}

# make in the source tree, into the file's own build directory.
tmake() {
	smake -C "$REPO" -j2 BUILD="$TB" CFLAGS=-O0 "$@"
}

@test "make install DESTDIR= PREFIX=/usr LIBDIR=/usr/lib/<multiarch>: every file where it belongs; the installed command preloads the installed library" {
	local root=$BATS_TEST_TMPDIR/root lib=$LIBDIR
	tmake install DESTDIR="$root" PREFIX=/usr LIBDIR=$lib >/dev/null
	run bash -c "cd '$root' && find . -type f | sort"
	assert_output "./usr/bin/resetguard
.$lib/pkgconfig/resetguard.pc
.$lib/resetguard/libresetguard.so
./usr/share/doc/resetguard/examples/systemd/resetguard.conf
./usr/share/man/man1/resetguard.1
./usr/share/man/man5/resetguard.conf.5
./usr/share/man/man7/resetguard.7"
	# The staged command finds the staged library, not one elsewhere (an
	# uninstrumented build, even under tests/run-sanitized).
	run "$root/usr/bin/resetguard" sh -c 'echo "$LD_PRELOAD"'
	assert_success
	assert_output "$root$lib/resetguard/libresetguard.so"
	run -141 "$PROBE" write write
	run "$root/usr/bin/resetguard" "$PROBE" write write
	assert_success
	assert_line alive
	# The drop-in names the library where it is installed.
	run grep '^Environment=LD_PRELOAD=' "$root/usr/share/doc/resetguard/examples/systemd/resetguard.conf"
	assert_output "Environment=LD_PRELOAD=$lib/resetguard/libresetguard.so"
	tmake uninstall DESTDIR="$root" PREFIX=/usr LIBDIR=$lib >/dev/null
	run find "$root" -type f
	assert_output ""
}

@test "resetguard.pc: pkg-config gives the installed library's path and the version" {
	require pkg-config
	local root=$BATS_TEST_TMPDIR/root lib=$LIBDIR
	tmake install DESTDIR="$root" PREFIX=/usr LIBDIR=$lib >/dev/null
	export PKG_CONFIG_PATH=$root$lib/pkgconfig
	run pkg-config --variable=library resetguard
	assert_output "$lib/resetguard/libresetguard.so"
	run pkg-config --modversion resetguard
	assert_output "$("$TB/resetguard" --version | cut -d' ' -f2)"
	run pkg-config --libs --cflags resetguard
	assert_success
	assert_output ""
}

@test "a build for another PREFIX rebuilds the command with the new library directory; the same PREFIX rebuilds nothing" {
	TB=$BATS_TEST_TMPDIR/build
	cp -a "$BATS_FILE_TMPDIR/build" "$TB"
	tmake PREFIX=/opt/one all >/dev/null
	cp "$TB/resetguard" "$BATS_TEST_TMPDIR/lonely"
	run "$BATS_TEST_TMPDIR/lonely" true
	assert_failure 125
	assert_output --partial "or in /opt/one/lib/resetguard"
	tmake PREFIX=/opt/two all >/dev/null
	cp "$TB/resetguard" "$BATS_TEST_TMPDIR/lonely"
	run "$BATS_TEST_TMPDIR/lonely" true
	assert_failure 125
	assert_output --partial "or in /opt/two/lib/resetguard"
	run tmake PREFIX=/opt/two LIBDIR=/opt/two/lib all
	assert_output "" # nothing rebuilt
	run tmake PREFIX=/opt/two LIBDIR=/opt/two/lib64 all
	assert_output --partial "-DRG_PKGLIBDIR='\"/opt/two/lib64/resetguard\"'"
	refute_output --partial "-c -o" # the library's objects kept
}

@test "CPPFLAGS, CFLAGS and LDFLAGS (dpkg-buildflags') reach every compile and link line; the library is fortified" {
	local cppflags='-Wdate-time -D_FORTIFY_SOURCE=2' cflags='-g -O1 -fstack-protector-strong -Wformat'
	local ldflags='-Wl,-z,relro' lines compiles
	TB=$BATS_TEST_TMPDIR/build
	run tmake -B -n all programs CPPFLAGS="$cppflags" CFLAGS="$cflags" LDFLAGS="$ldflags"
	assert_success
	lines=$(grep -E '^(cc|gcc|clang) ' <<<"$output")
	compiles=$(grep -E '\.c( |$)' <<<"$lines")
	[[ $(wc -l <<<"$compiles") -gt 20 ]] || fail "too few compile lines: $lines"
	run grep -v -e "$cppflags" <<<"$compiles"
	assert_output "" # every line that compiles has the CPPFLAGS
	run grep -v -e "$cflags" <<<"$compiles"
	assert_output "" # and the CFLAGS
	run grep -v -e "$ldflags" <<<"$(grep -v -e ' -c ' <<<"$lines")"
	assert_output "" # every line that links has the LDFLAGS
	# And they take effect: glibc's fortified functions in the library.
	tmake all CPPFLAGS="$cppflags" CFLAGS="$cflags" LDFLAGS="$ldflags" >/dev/null
	run bash -c "nm -D --undefined-only '$TB/libresetguard.so' | grep -c '__[a-z]*_chk'"
	assert_success
	# Other flags alone rebuild the objects.
	run tmake -n all CFLAGS="$cflags" LDFLAGS="$ldflags"
	assert_output --partial "-c -o $TB/shim/"
}

@test "make dist: a versioned tarball that builds and runs outside git" {
	[[ $(git -C "$REPO" rev-parse --show-toplevel 2>/dev/null) == "$REPO" ]] ||
		skip "not a git checkout (an unpacked tarball)"
	local version
	version=$(smake -C "$REPO" -s dist DISTDIR="$BATS_TEST_TMPDIR")
	[[ $version =~ /resetguard-(.+)\.tar\.gz$ ]] || fail "no tarball: $version"
	version=${BASH_REMATCH[1]}
	mkdir "$BATS_TEST_TMPDIR/unpacked"
	tar -C "$BATS_TEST_TMPDIR/unpacked" -xzf "$BATS_TEST_TMPDIR/resetguard-$version.tar.gz"
	local tree=$BATS_TEST_TMPDIR/unpacked/resetguard-$version
	run ls "$BATS_TEST_TMPDIR/unpacked"
	assert_output "resetguard-$version"
	[[ ! -e $tree/.git && -x $tree/tests/run && -f $tree/shim/close.c ]]
	assert_equal "$(cat "$tree/VERSION")" "$version"
	smake -C "$tree" -j2 BUILD=build CFLAGS=-O0 all build/tests/resetprobe >/dev/null
	run "$tree/build/resetguard" --version
	assert_output "resetguard $version"
	run "$tree/build/resetguard" "$tree/build/tests/resetprobe" write write
	assert_success
	assert_line alive
	# Its own suite runs there (a part of it; make distcheck runs more).
	run env -u RESETGUARD_BUILD "$tree/tests/run" -f 'exits with the command' "$tree/tests/wrapper.bats"
	assert_success
	assert_line --partial "1 passed, 0 failed"
}
