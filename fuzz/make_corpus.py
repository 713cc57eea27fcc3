#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/:
small valid files of each format (standard library only), which the fuzzer
mutates. Usage: /usr/bin/python3 fuzz/make_corpus.py"""
import gzip
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def save(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(dims, values):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + struct.pack(">" + "I" * len(dims), *dims) + bytes(values)


def mat_element(kind, payload):
    if len(payload) <= 4:  # small data element format
        return struct.pack("<HH", kind, len(payload)) + payload.ljust(4, b"\0")
    return struct.pack("<II", kind, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def mat_variable(name, class_id, dims, kind, payload, compressed):
    body = (mat_element(6, struct.pack("<II", class_id, 0)) + mat_element(5, struct.pack("<%di" % len(dims), *dims))
            + mat_element(1, name.encode()) + mat_element(kind, payload))
    whole = struct.pack("<II", 14, len(body)) + body
    if not compressed:
        return whole
    z = zlib.compress(whole)
    return struct.pack("<II", 15, len(z)) + z


def mat_file(variables):
    header = b"MATLAB 5.0 MAT-file, fastadv fuzz seed".ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    return header + b"".join(variables)


def main():
    img = [(i * 7) % 256 for i in range(2 * 28 * 28)]
    save("fuzz_idx", "images_plain", idx([2, 28, 28], img))
    save("fuzz_idx", "images_gzip", gzip.compress(idx([2, 28, 28], img), mtime=0))
    save("fuzz_idx", "labels_plain", idx([5], [0, 1, 9, 3, 4]))
    save("fuzz_idx", "labels_gzip", gzip.compress(idx([5], [0, 1, 9, 3, 4]), mtime=0))
    save("fuzz_idx", "small_4d", idx([2, 1, 3, 2], range(12)))
    # 'Z' + bytes: the target gzips the bytes first (see fuzz_idx.c)
    save("fuzz_idx", "z_images", b"Z" + idx([2, 28, 28], img))
    save("fuzz_idx", "z_labels", b"Z" + idx([5], [0, 1, 9, 3, 4]))

    rec = lambda label, seed: bytes([label]) + bytes((seed + 3 * i) % 256 for i in range(3072))
    save("fuzz_cifar10", "two_records", rec(3, 0) + rec(9, 100))
    save("fuzz_cifar10", "one_record", rec(0, 7))

    x = bytes((i * 13) % 256 for i in range(3072))
    for compressed in (0, 1):
        y_double = mat_variable("y", 6, [1, 1], 9, struct.pack("<d", 10.0), compressed)
        y_uint8 = mat_variable("y", 6, [1, 1], 2, bytes([4]), compressed)
        x_var = mat_variable("X", 9, [32, 32, 3, 1], 2, x, compressed)
        other = mat_variable("note", 4, [1, 5], 2, b"hello", compressed)
        tag = "compressed" if compressed else "plain"
        save("fuzz_svhn_mat", "xy_double_" + tag, mat_file([x_var, y_double]))
        save("fuzz_svhn_mat", "yx_uint8_other_" + tag, mat_file([other, y_uint8, x_var]))
    # 'Z' + one element: the target wraps it in miCOMPRESSED (see fuzz_svhn_mat.c)
    save("fuzz_svhn_mat", "z_x_variable", b"Z" + mat_variable("X", 9, [32, 32, 3, 1], 2, x, 0))
    save("fuzz_svhn_mat", "z_y_variable", b"Z" + mat_variable("y", 6, [1, 1], 9, struct.pack("<d", 3.0), 0))


if __name__ == "__main__":
    main()
