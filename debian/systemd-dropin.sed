# debian/rules: the systemd drop-in of the package names the library with
# the loader's $LIB, which Debian's ld.so expands to lib/<multiarch>.
/^Environment=LD_PRELOAD=\/usr\/lib\/[^/$]*\/resetguard\//{
i\
# Debian: ld.so expands $LIB to lib/<multiarch> (lib/x86_64-linux-gnu on\
# amd64, lib/aarch64-linux-gnu on arm64), so this one line preloads the\
# library of the service's own architecture (libresetguard:ARCH).
s|/usr/lib/[^/$]*/resetguard/|/usr/$LIB/resetguard/|
}
