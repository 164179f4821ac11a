#!/usr/bin/env python3
"""Writes the handler zip from a JSON spec on stdin (see scripts/package-lib.mjs):

    {"zip": "/abs/out.zip", "entries": [{"src": "/abs/file", "name": "dir/file", "mode": 493}]}

Python's zipfile is what the agent unzips with, so writing with it too leaves no room for
format surprises (no extra fields, no symlink entries, no directory entries). Entries are
regular files only, deflated at zlib's default level (level 9 saves 0.5% of the runtime for
3.5 times the time), with a fixed timestamp so that rebuilding the same inputs gives
the same bytes.
"""
import json
import os
import shutil
import stat
import sys
import time
import zipfile

# zip dates start in 1980; SOURCE_DATE_EPOCH is the reproducible-builds convention.
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
DATE_TIME = time.gmtime(max(EPOCH, 315532800))[:6]


def main():
    spec = json.load(sys.stdin)
    tmp = spec["zip"] + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in spec["entries"]:
            st = os.lstat(entry["src"])
            if not stat.S_ISREG(st.st_mode):
                sys.exit("make-zip: not a regular file: " + entry["src"])
            info = zipfile.ZipInfo(entry["name"], DATE_TIME)
            info.create_system = 3  # unix, so that external_attr carries the mode bits
            info.external_attr = (stat.S_IFREG | entry["mode"]) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = st.st_size
            with open(entry["src"], "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, spec["zip"])


if __name__ == "__main__":
    main()
