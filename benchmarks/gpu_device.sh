#!/bin/bash
# What session 22 ran to get gpu_e2e_224.sh onto a borrowed GPU machine that has PyTorch but
# neither this project's other dependencies nor the data, and takes 64 MiB with the repository.
#
#   bash benchmarks/gpu_device.sh prepare        # here: fills .gpu/ (git-ignored; 9 MB)
#   bash benchmarks/gpu_device.sh run OUT_DIR    # there, with .gpu/ carried beside the repo files
#
# prepare: the 20k subset's own lines (iconify_subset.py, 4.2 MB), cairosvg and its pure-Python
# dependencies plus cffi as CPython 3.12 wheels, and the cairo shared libraries as .deb files
# of this machine's distribution (Debian 12; the GPU machine's Ubuntu 24.04 has a newer glibc).
# run: installs the wheels into /tmp/site, unpacks the libraries into /tmp/libs (never /),
# checks that cairo draws, times the PixelCNN's training steps (pixel_cnn_speed.py), then runs
# gpu_e2e_224.sh on the subset under a DEADLINE and leaves in OUT_DIR what the tool brings back
# (at most 8 files): the speed table and JSON, the log and an archive of the run without
# weights or checkpoints. Environment: DEADLINE [420], LIMIT (seconds for the whole
# comparison) [470], SPEED (0: skip the speed table) [1], and gpu_e2e_224.sh's own variables
# (session 23: STEM 4, AMP 1). Runs finished on an earlier machine are reused when runs/gpu is
# carried back (the archive unpacked at the repository root; weights are not needed).
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
G=.gpu
case "${1:-}" in
prepare)
  grep -qx "/$G/" .git/info/exclude 2>/dev/null || echo "/$G/" >> .git/info/exclude
  mkdir -p $G/debs $G/wheels
  python benchmarks/iconify_subset.py --max-icons "${ICONS:-20000}" --out $G/data \
    --data-dir "${LABELSPHERE_DATA:-../shared/data}"
  (cd $G/debs && apt-get download libcairo2 libfontconfig1 libfreetype6 libpixman-1-0 \
    libpng16-16 libx11-6 libxcb-render0 libxcb-shm0 libxcb1 libxext6 libxrender1 libxau6 \
    libxdmcp6 libbsd0 libmd0 libexpat1 libbrotli1 fontconfig-config)
  for f in $G/debs/*%3a*; do [ -e "$f" ] && mv "$f" "${f//%3a/_}"; done
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    -d $G/wheels cairosvg==2.9.1 cairocffi==1.7.1 cffi==2.1.1 pycparser==3.12 \
    cssselect2==0.10.1 tinycss2==1.5.1 webencodings==0.6.1 defusedxml==0.7.1
  du -sh $G
  ;;
run)
  OUT=${2:?usage: gpu_device.sh run OUT_DIR}
  mkdir -p "$OUT"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    $G/wheels/*.whl
  mkdir -p /tmp/libs && for f in $G/debs/*.deb; do dpkg -x "$f" /tmp/libs; done
  L=/tmp/libs/usr/lib/x86_64-linux-gnu:/tmp/libs/lib/x86_64-linux-gnu
  export PYTHONPATH=/tmp/site:$PWD/src LD_LIBRARY_PATH=$L:${LD_LIBRARY_PATH:-}
  export FONTCONFIG_FILE=/tmp/libs/etc/fonts/fonts.conf PYTHONUNBUFFERED=1
  nvidia-smi -L || true
  python3 -c "import cairosvg; cairosvg.svg2png(bytestring=b'<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"/>')"
  # The network's speed first, by stem, precision and layout (about 30 s), then the comparison.
  if [[ ${SPEED:-1} == 1 ]]; then
    timeout 120 python3 benchmarks/pixel_cnn_speed.py --json "$OUT/pixel_cnn_speed.json" \
      > "$OUT/pixel_cnn_speed.txt" 2>&1 || echo "pixel_cnn_speed.py exit $?" >> "$OUT/pixel_cnn_speed.txt"
  fi
  rc=0
  PYTHON=python3 DEADLINE=${DEADLINE:-420} WORKERS=${WORKERS:-12} timeout "${LIMIT:-470}" \
    bash benchmarks/gpu_e2e_224.sh $G/data "${RUNS:-runs/gpu}" > "$OUT/log.txt" 2>&1 || rc=$?
  echo "gpu_e2e_224.sh exit $rc after $SECONDS s"
  tar czf "$OUT/e2e224.tar.gz" --exclude=checkpoints --exclude=model.safetensors "${RUNS:-runs/gpu}"
  gzip -f "$OUT/log.txt"
  if [ -f "${RUNS:-runs/gpu}/report.md" ]; then cp "${RUNS:-runs/gpu}/report.md" "$OUT/"; fi
  ;;
*)
  echo "usage: gpu_device.sh prepare | run OUT_DIR" >&2
  exit 2
  ;;
esac
