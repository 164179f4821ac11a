#!/usr/bin/env python3
"""Writes the handler zip from a JSON spec on stdin (see scripts/package-lib.mjs):

    {"zip": "/abs/out.zip", "entries": [{"src": "/abs/file", "name": "dir/file", "mode": 493},
                                        {"fromZip": "/abs/cache.zip", "name": "runtime/linux-x64/node"}]}

or, to make the cache of one LZMA-compressed member:

    {"zip": "/abs/cache.zip", "lzma": true, "entries": [{"src": "/abs/node", "name": "...", "mode": 493}]}

Python's zipfile is what the agent unzips with, so writing with it too leaves no room for format
surprises (no extra fields, no symlink entries, no directory entries). Small files are deflated
at zlib's default level. The Node runtime, nine tenths of the package, is LZMA-compressed (zip
method 14, which zipfile reads wherever Python has its lzma module): 28 MiB instead of 42.5.
Compressing it takes about a minute, so it is done once per runtime and architecture, and the
compressed member is copied into each package byte for byte. A fixed timestamp makes rebuilding
the same inputs give the same bytes.
"""
import json
import lzma
import os
import shutil
import stat
import struct
import sys
import time
import zipfile

# zip dates start in 1980; SOURCE_DATE_EPOCH is the reproducible-builds convention.
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
DATE_TIME = time.gmtime(max(EPOCH, 315532800))[:6]


class LZMA9Compressor(zipfile.LZMACompressor):
    """zipfile's LZMA member writer at preset 9 (zipfile uses the default, 6): 0.35 MiB less.

    The preset is written into the member's own LZMA properties, which is all the reader uses.
    """

    def _init(self):
        props = lzma._encode_filter_properties({"id": lzma.FILTER_LZMA1, "preset": 9})
        self._comp = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)])
        return struct.pack("<BBH", 9, 4, len(props)) + props


def regular_info(entry, compress_type):
    st = os.lstat(entry["src"])
    if not stat.S_ISREG(st.st_mode):
        sys.exit("make-zip: not a regular file: " + entry["src"])
    info = zipfile.ZipInfo(entry["name"], DATE_TIME)
    info.create_system = 3  # unix, so that external_attr carries the mode bits
    info.external_attr = (stat.S_IFREG | entry["mode"]) << 16
    info.compress_type = compress_type
    info.file_size = st.st_size
    return info


def write_file(zf, entry, compress_type):
    info = regular_info(entry, compress_type)
    with open(entry["src"], "rb") as src, zf.open(info, "w") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def copy_member(zf, cache_zip, name):
    """Copies one member of another zip, compressed bytes as they are: no recompression."""
    with zipfile.ZipFile(cache_zip) as src:
        info = src.getinfo(name)
        src.fp.seek(info.header_offset)
        header = struct.unpack(zipfile.structFileHeader, src.fp.read(zipfile.sizeFileHeader))
        src.fp.seek(header[zipfile._FH_FILENAME_LENGTH] + header[zipfile._FH_EXTRA_FIELD_LENGTH], os.SEEK_CUR)
        data = src.fp.read(info.compress_size)
    copy = zipfile.ZipInfo(info.filename, info.date_time)
    for attr in ("create_system", "external_attr", "compress_type", "file_size", "compress_size", "CRC", "flag_bits"):
        setattr(copy, attr, getattr(info, attr))
    copy.header_offset = zf.fp.tell()
    zf.fp.write(copy.FileHeader(zip64=False))
    zf.fp.write(data)
    zf.filelist.append(copy)
    zf.NameToInfo[copy.filename] = copy
    zf.start_dir = zf.fp.tell()
    zf._didModify = True


def main():
    spec = json.load(sys.stdin)
    tmp = spec["zip"] + ".%d.tmp" % os.getpid()
    if spec.get("lzma"):
        zipfile.LZMACompressor = LZMA9Compressor
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in spec["entries"]:
            if "fromZip" in entry:
                copy_member(zf, entry["fromZip"], entry["name"])
            else:
                write_file(zf, entry, zipfile.ZIP_LZMA if spec.get("lzma") else zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(tmp) as check:
        bad = check.testzip()
        if bad is not None:
            sys.exit("make-zip: CRC check failed for " + bad)
    os.replace(tmp, spec["zip"])


if __name__ == "__main__":
    main()
