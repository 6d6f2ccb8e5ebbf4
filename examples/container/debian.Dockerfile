# A Debian image that runs a real server (python3's http.server) under
# resetguard, installed from the packages built from this tree.
#
# The build context is the directory that holds the .deb files, e.g.
#
#     .ci/deb build/deb            # or dpkg-buildpackage -us -uc -b
#     docker build -f examples/container/debian.Dockerfile -t resetguard-debian build/deb
#     docker run --rm -p 127.0.0.1:8000:8000 resetguard-debian
#
# The packages are for the architecture they were built on: build them on
# (or for) the image's platform.
FROM debian:bookworm-slim

COPY libresetguard_*.deb resetguard_*.deb /tmp/resetguard/
RUN apt-get update \
	&& apt-get install -y --no-install-recommends python3 /tmp/resetguard/*.deb \
	&& rm -rf /var/lib/apt/lists/* /tmp/resetguard

# Every program started in the container from here on (the server, and
# whatever `docker exec` runs) has the library preloaded.  \$ keeps Docker
# from substituting $LIB itself: Debian's loader expands it to
# lib/<multiarch>, the directory of the image's own architecture.
ENV LD_PRELOAD=/usr/\$LIB/resetguard/libresetguard.so
# Records go to stderr (docker logs); info adds each graceful close.
ENV RESETGUARD_LOG_LEVEL=info

WORKDIR /srv
USER nobody
EXPOSE 8000
CMD ["python3", "-m", "http.server", "--bind", "0.0.0.0", "8000"]
