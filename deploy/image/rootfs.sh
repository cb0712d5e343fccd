#!/usr/bin/env bash
# Assembles the image's root file system from a built binary, the same way for the Dockerfile's
# build stage and for the test command's image (scripts/test, which has no registry to pull a
# base image from): the binary, the shared libraries ldd lists (and the loader), the CA bundle,
# and /etc/passwd and /etc/group with the `smr` user (uid and gid 10001). Nothing else: no
# shell, no package manager, no curl (the health check is `sagemaker-remediator healthcheck`).
#
#   deploy/image/rootfs.sh BINARY OUT_DIR
set -euo pipefail
bin=$1
out=$2

rm -rf "$out"
mkdir -p "$out/usr/local/bin" "$out/etc/ssl/certs" "$out/var/lib/sagemaker-remediator"
install -m 0755 "$bin" "$out/usr/local/bin/sagemaker-remediator"
# The libraries the dynamic loader resolves, and the loader itself.
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
    while read -r lib; do
        cp -L --parents "$lib" "$out"
    done
cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nsmr:x:10001:10001:sagemaker-remediator:/var/lib/sagemaker-remediator:/sbin/nologin\n' >"$out/etc/passwd"
printf 'root:x:0:\nsmr:x:10001:\n' >"$out/etc/group"
