# An Alpine (musl) image that runs a real server (python3's http.server)
# under resetguard, built from this tree for musl in a build stage.
#
# The build context is the source tree's root:
#
#     docker build -f examples/container/alpine.Dockerfile -t resetguard-alpine .
#     docker run --rm -p 127.0.0.1:8000:8000 resetguard-alpine
#
# Alpine's gcc links against musl, so the Makefile builds the library (and
# the command) for musl programs, in build-musl; see resetguard(7), MUSL.
FROM alpine:3.20 AS build
RUN apk add --no-cache build-base linux-headers
WORKDIR /src
COPY Makefile VERSION resetguard.pc.in ./
COPY shim/ shim/
COPY cli/ cli/
COPY man/ man/
COPY examples/systemd/ examples/systemd/
RUN make -j2 PREFIX=/usr all && make PREFIX=/usr DESTDIR=/out install

FROM alpine:3.20
RUN apk add --no-cache python3
COPY --from=build /out/usr/ /usr/

# Every program started in the container from here on has the library
# preloaded.  musl's loader does not expand $LIB: the path is spelt out.
ENV LD_PRELOAD=/usr/lib/resetguard/libresetguard.so
# Records go to stderr (docker logs); info adds each graceful close.
ENV RESETGUARD_LOG_LEVEL=info

WORKDIR /srv
USER nobody
EXPOSE 8000
CMD ["python3", "-m", "http.server", "--bind", "0.0.0.0", "8000"]
