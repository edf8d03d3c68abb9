#!/usr/bin/env python3
"""Writes a corpus of bad inputs for swiftfile (docs/formats.md §4) into a folder.

    python3 Tools/make_bad_inputs.py OUT_DIR [--model PATH] [--no-models] [--families gguf,zip,model,valid]

Three families, each file with exactly one defect:
  gguf-*   malformed GGUF files (header, metadata, tensor table), a few hundred bytes each;
  zip-*    malformed ZIP / llamafile containers around a small valid GGUF;
  model-*  a valid GGUF (the tiny Llama 3 model, rewritten) whose model content is wrong:
           hyper-parameters, tensors, architecture, vocabulary.
plus valid-* controls: `valid` files must load as models, so a runner that rejects everything cannot
pass; `valid-gguf` files are well-formed GGUF (the reader must parse them) but need not be models.
OUT_DIR/manifest.tsv lists `file<TAB>family<TAB>description`, one line per file.

Plain python3, no dependencies; the same arguments always give the same bytes.
"""
import argparse
import hashlib
import os
import struct
import sys
import zlib

# --- GGUF encoding (docs/formats.md §2) -------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
                  BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
TYPE_F32, TYPE_F16, TYPE_Q4_0, TYPE_Q8_0, TYPE_Q4_K = 0, 1, 2, 8, 12
MAX64 = (1 << 64) - 1


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def string(s):
    raw = s.encode() if isinstance(s, str) else s
    return u64(len(raw)) + raw


def kv(key, value_type, payload):
    """One key/value pair: key, type, already-encoded value."""
    return string(key) + u32(value_type) + payload


def kv_scalar(key, value_type, value):
    return kv(key, value_type, struct.pack(SCALAR_FORMATS[value_type], value))


def kv_string(key, value):
    return kv(key, STRING, string(value))


def tensor_info(name, dims, tensor_type, offset):
    return string(name) + u32(len(dims)) + b"".join(u64(d) for d in dims) + u32(tensor_type) + u64(offset)


def pad_to(data, alignment):
    return data + b"\0" * (-len(data) % alignment)


def gguf(kvs, infos, data=b"", *, magic=b"GGUF", version=3, tensor_count=None, kv_count=None, alignment=32):
    head = magic + u32(version) + u64(len(infos) if tensor_count is None else tensor_count)
    head += u64(len(kvs) if kv_count is None else kv_count)
    body = head + b"".join(kvs) + b"".join(infos)
    if not infos and not data:
        return body
    return pad_to(body, alignment) + data


SMALL_KVS = [kv_string("general.architecture", "llama"), kv_string("general.name", "small"),
             kv_scalar("llama.block_count", U32, 1), kv_scalar("flag", BOOL, 1)]


def small_valid_gguf():
    """A tiny well-formed GGUF: four keys, two F32 tensors (it is not a usable model)."""
    infos = [tensor_info("a", [8], TYPE_F32, 0), tensor_info("b", [8], TYPE_F32, 32)]
    return gguf(SMALL_KVS, infos, bytes(range(64)))


def one_tensor(dims, tensor_type=TYPE_F32, offset=0, data_size=64, name="t"):
    return gguf(SMALL_KVS, [tensor_info(name, dims, tensor_type, offset)], b"\x01" * data_size)


def gguf_cases():
    """(name, description, bytes) for every GGUF item of docs/formats.md §4."""
    valid = small_valid_gguf()
    infos_end = len(gguf(SMALL_KVS, [tensor_info("a", [8], TYPE_F32, 0), tensor_info("b", [8], TYPE_F32, 32)]))
    kvs_end = len(gguf(SMALL_KVS, []))
    cases = [
        ("gguf-empty.gguf", "empty file", b""),
        ("gguf-magic-only.gguf", "4 bytes: magic only", valid[:4]),
        ("gguf-truncated-header.gguf", "cut inside the tensor count", valid[:12]),
        ("gguf-truncated-metadata.gguf", "cut inside the metadata", valid[:kvs_end - 3]),
        ("gguf-truncated-tensor-infos.gguf", "cut inside the tensor infos", valid[:infos_end - 5]),
        ("gguf-truncated-data.gguf", "cut inside the tensor data", valid[:-1]),
        ("gguf-wrong-magic.gguf", "magic GGML", b"GGML" + valid[4:]),
        ("gguf-elf-magic.gguf", "an ELF file", b"\x7fELF" + valid[4:]),
        ("gguf-version-0.gguf", "version 0", gguf(SMALL_KVS, [], version=0)),
        ("gguf-version-1.gguf", "version 1", gguf(SMALL_KVS, [], version=1)),
        ("gguf-version-4.gguf", "version 4", gguf(SMALL_KVS, [], version=4)),
        ("gguf-version-max.gguf", "version 2^32-1", gguf(SMALL_KVS, [], version=0xFFFFFFFF)),
        ("gguf-big-endian.gguf", "big-endian header",
         b"GGUF" + struct.pack(">IQQ", 3, 0, 1) + struct.pack(">Q", 1) + b"k" + struct.pack(">II", U32, 7)),
        ("gguf-tensor-count-max.gguf", "tensor count 2^64-1", gguf(SMALL_KVS, [], tensor_count=MAX64)),
        ("gguf-kv-count-max.gguf", "metadata count 2^64-1", gguf(SMALL_KVS, [], kv_count=MAX64)),
        ("gguf-tensor-count-too-large.gguf", "tensor count 1000 in a small file", gguf(SMALL_KVS, [], tensor_count=1000)),
        ("gguf-kv-count-too-large.gguf", "metadata count 50 with 4 pairs", gguf(SMALL_KVS, [], kv_count=50)),
        ("gguf-kv-count-one-more.gguf", "metadata count one more than the pairs present",
         gguf(SMALL_KVS, [], kv_count=len(SMALL_KVS) + 1) + u64(5) + b"gam"),
        ("gguf-key-length-max.gguf", "key length 2^64-1", gguf([u64(MAX64) + b"\0" * 32], [])),
        ("gguf-key-past-eof.gguf", "key length past the end of the file", gguf([u64(40) + b"general"], [])),
        ("gguf-string-length-max.gguf", "string value length 2^64-1",
         gguf([kv("general.name", STRING, u64(MAX64)) + b"\0" * 16], [])),
        ("gguf-string-past-eof.gguf", "string value past the end of the file",
         gguf([kv("general.name", STRING, u64(100) + b"abc")], [])),
        ("gguf-empty-key.gguf", "empty key", gguf(SMALL_KVS + [kv_scalar("", U32, 1)], [])),
        ("gguf-duplicate-key.gguf", "duplicate key", gguf(SMALL_KVS + [kv_string("general.name", "again")], [])),
        ("gguf-value-type-13.gguf", "value type 13", gguf(SMALL_KVS + [kv("k", 13, u32(0))], [])),
        ("gguf-value-type-max.gguf", "value type 2^32-1", gguf(SMALL_KVS + [kv("k", 0xFFFFFFFF, u32(0))], [])),
        ("gguf-array-element-type-13.gguf", "array element type 13",
         gguf(SMALL_KVS + [kv("k", ARRAY, u32(13) + u64(1) + u32(0))], [])),
        ("gguf-nested-array.gguf", "array of arrays",
         gguf(SMALL_KVS + [kv("k", ARRAY, u32(ARRAY) + u64(1) + u32(U8) + u64(1) + b"\x01")], [])),
        ("gguf-array-count-max.gguf", "array of 2^64-1 u8",
         gguf(SMALL_KVS + [kv("k", ARRAY, u32(U8) + u64(MAX64))], []) + b"\0" * 16),
        ("gguf-array-size-overflow.gguf", "array of 2^61 u64 (2^64 bytes)",
         gguf(SMALL_KVS + [kv("k", ARRAY, u32(U64) + u64(1 << 61))], []) + b"\0" * 16),
        ("gguf-array-strings-huge.gguf", "array of 2^62 strings",
         gguf(SMALL_KVS + [kv("tokenizer.ggml.tokens", ARRAY, u32(STRING) + u64(1 << 62))], []) + b"\0" * 16),
        ("gguf-bool-2.gguf", "bool value 2", gguf(SMALL_KVS[:3] + [kv("flag", BOOL, b"\x02")], [])),
        ("gguf-array-over-limit.gguf", "array of 2^22+1 u8: fits the file, not the reader's memory bound",
         gguf(SMALL_KVS + [kv("k", ARRAY, u32(U8) + u64((1 << 22) + 1) + b"\x01" * ((1 << 22) + 1))], [])),
        ("gguf-kv-count-over-limit.gguf", "2^16+1 metadata pairs",
         gguf([kv_scalar(f"k{index}", U8, 1) for index in range((1 << 16) + 1)], [])),
    ]
    for value, label in [(0, "0"), (13, "13"), (1 << 31, "2^31")]:
        cases.append((f"gguf-alignment-{label.replace('^', 'pow')}.gguf", f"general.alignment {label}",
                      gguf(SMALL_KVS + [kv_scalar("general.alignment", U32, value)],
                           [tensor_info("t", [8], TYPE_F32, 0)], b"\0" * 32)))
    cases += [
        ("gguf-alignment-u64.gguf", "general.alignment of type u64",
         gguf(SMALL_KVS + [kv_scalar("general.alignment", U64, 32)], [tensor_info("t", [8], TYPE_F32, 0)], b"\0" * 32)),
        ("gguf-alignment-string.gguf", "general.alignment of type string",
         gguf(SMALL_KVS + [kv_string("general.alignment", "32")], [tensor_info("t", [8], TYPE_F32, 0)], b"\0" * 32)),
        ("gguf-tensor-name-length-max.gguf", "tensor name length 2^64-1",
         gguf(SMALL_KVS, [u64(MAX64) + b"\0" * 40])),
        ("gguf-duplicate-tensor.gguf", "two tensors named t",
         gguf(SMALL_KVS, [tensor_info("t", [8], TYPE_F32, 0), tensor_info("t", [8], TYPE_F32, 32)], b"\0" * 64)),
        ("gguf-ndims-0.gguf", "n_dims 0", gguf(SMALL_KVS, [string("t") + u32(0) + u32(TYPE_F32) + u64(0) + b"\0" * 16], b"\0" * 32)),
        ("gguf-ndims-5.gguf", "n_dims 5", one_tensor([2, 2, 2, 2, 2])),
        ("gguf-dimension-0.gguf", "a dimension of 0", one_tensor([8, 0])),
        ("gguf-dimension-max.gguf", "a dimension of 2^64-1", one_tensor([MAX64])),
        ("gguf-elements-overflow.gguf", "dimensions whose product overflows", one_tensor([1 << 32, 1 << 32])),
        ("gguf-bytes-overflow.gguf", "F32 byte size overflows (2^62 elements)", one_tensor([1 << 31, 1 << 31])),
        ("gguf-bytes-overflow-q8_0.gguf", "Q8_0 byte size overflows", one_tensor([32, 31 << 53], TYPE_Q8_0)),
        ("gguf-row-not-whole-blocks.gguf", "Q4_0 row of 33 elements", one_tensor([33], TYPE_Q4_0)),
        ("gguf-row-not-whole-k-blocks.gguf", "Q4_K row of 32 elements", one_tensor([32, 8], TYPE_Q4_K, data_size=160)),
        ("gguf-tensor-type-4.gguf", "tensor type 4 (removed Q4_2)", one_tensor([8], 4)),
        ("gguf-tensor-type-31.gguf", "tensor type 31", one_tensor([8], 31)),
        ("gguf-tensor-type-max.gguf", "tensor type 2^32-1", one_tensor([8], 0xFFFFFFFF)),
        ("gguf-offset-unaligned.gguf", "tensor offset 8", one_tensor([4], offset=8)),
        ("gguf-offset-past-eof.gguf", "tensor offset 2^40", one_tensor([4], offset=1 << 40)),
        ("gguf-offset-max.gguf", "tensor offset 2^64-32", one_tensor([4], offset=MAX64 - 31)),
        ("gguf-size-past-eof.gguf", "tensor data runs past the end", one_tensor([1000])),
        ("gguf-overlapping-tensors.gguf", "two tensors share bytes",
         gguf(SMALL_KVS, [tensor_info("a", [16], TYPE_F32, 0), tensor_info("b", [8], TYPE_F32, 32)], b"\0" * 64)),
        ("gguf-data-section-missing.gguf", "tensor infos but no data section",
         gguf(SMALL_KVS, [tensor_info("t", [8], TYPE_F32, 0)])),
    ]
    return cases


# --- ZIP / llamafile containers (docs/formats.md §1) ----------------------------------------------

LOCAL_SIG, CENTRAL_SIG, EOCD_SIG, ZIP64_EOCD_SIG, ZIP64_LOCATOR_SIG = 0x04034B50, 0x02014B50, 0x06054B50, 0x06064B50, 0x07064B50
UTF8_FLAG = 1 << 11
DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, as swiftfile-pack writes for reproducible output
STUB = b"\x7fELF" + b"swiftfile runner stand-in\n" * 40  # the bytes a real bundle's runner would occupy


class ArchiveBuilder:
    """Builds a llamafile-style archive (zipalign layout) and remembers where each record sits."""

    def __init__(self, prefix=STUB, alignment=65536):
        self.out = bytearray(prefix)
        self.alignment = alignment
        self.members = []  # dicts: name, size, compressed, crc, method, flags, local_offset, data_offset
        self.records = {}

    def add(self, name, data, method=0, flags=UTF8_FLAG):
        raw_name = name.encode()
        stored = data if method == 0 else zlib.compress(data, 9)[2:-4]  # raw deflate
        header_length = 30 + len(raw_name) + 20
        self.out += b"\0" * (-(len(self.out) + header_length) % self.alignment)
        local_offset = len(self.out)
        crc = zlib.crc32(data) & 0xFFFFFFFF
        self.out += struct.pack("<IHHHHHIIIHH", LOCAL_SIG, 45, flags, method, 0, DOS_DATE, crc,
                                0xFFFFFFFF, 0xFFFFFFFF, len(raw_name), 20)
        self.out += raw_name + struct.pack("<HHQQ", 1, 16, len(data), len(stored))
        self.members.append(dict(name=raw_name, size=len(data), compressed=len(stored), crc=crc, method=method,
                                 flags=flags, local_offset=local_offset, data_offset=len(self.out)))
        self.out += stored

    def finish(self, comment=b""):
        cd_offset = len(self.out)
        self.records["central"] = []
        for m in self.members:
            self.records["central"].append(len(self.out))
            self.out += struct.pack("<IHHHHHHIIIHHHHHII", CENTRAL_SIG, (3 << 8) | 45, 45, m["flags"], m["method"], 0,
                                    DOS_DATE, m["crc"], 0xFFFFFFFF, 0xFFFFFFFF, len(m["name"]), 28, 0, 0, 0,
                                    0o100644 << 16, 0xFFFFFFFF)
            self.out += m["name"] + struct.pack("<HHQQQ", 1, 24, m["size"], m["compressed"], m["local_offset"])
        cd_size = len(self.out) - cd_offset
        count = len(self.members)
        self.records["zip64_end"] = len(self.out)
        self.out += struct.pack("<IQHHIIQQQQ", ZIP64_EOCD_SIG, 44, (3 << 8) | 45, 45, 0, 0, count, count, cd_size, cd_offset)
        self.records["locator"] = len(self.out)
        self.out += struct.pack("<IIQI", ZIP64_LOCATOR_SIG, 0, self.records["zip64_end"], 1)
        self.records["end"] = len(self.out)
        self.out += struct.pack("<IHHHHIIH", EOCD_SIG, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, len(comment)) + comment
        return self

    def patch(self, offset, fmt, *values):
        struct.pack_into(fmt, self.out, offset, *values)
        return self

    def bytes(self):
        return bytes(self.out)


def make_bundle(members=None, **kwargs):
    archive = ArchiveBuilder(**kwargs)
    for name, data in members if members is not None else [(".args", b"-n\n16\n"), ("model.gguf", small_valid_gguf())]:
        archive.add(name, data)
    return archive.finish()


def classic_archive(entries_field, cd_size, cd_offset):
    """A non-ZIP64 archive: just an EOCD whose fields are given."""
    return STUB + struct.pack("<IHHHHIIH", EOCD_SIG, 0, 0, entries_field, entries_field, cd_size, cd_offset, 0)


def zip_cases(alignment=65536):
    gguf_member = small_valid_gguf()

    def bundle(members=None):
        return make_bundle(members, alignment=alignment)

    def new_archive(prefix=STUB):
        return ArchiveBuilder(prefix=prefix, alignment=alignment)

    cases = []

    def add(name, description, data):
        cases.append((name, description, data))

    # Central directory entry of model.gguf: its ZIP64 extra holds size, compressed size, local offset.
    def central_model(archive):
        return archive.records["central"][-1] + 46 + len(b"model.gguf") + 4

    a = bundle()
    add("zip-central-size-past-eof.llamafile", "central directory: member size 2^40",
        a.patch(central_model(a), "<QQ", 1 << 40, 1 << 40).bytes())
    a = bundle()
    add("zip-central-size-max.llamafile", "central directory: member size 2^64-1",
        a.patch(central_model(a), "<QQ", MAX64, MAX64).bytes())
    a = bundle()
    add("zip-local-offset-past-eof.llamafile", "central directory: local header offset 2^50",
        a.patch(central_model(a) + 16, "<Q", 1 << 50).bytes())
    a = bundle()
    add("zip-local-offset-max.llamafile", "central directory: local header offset 2^64-1",
        a.patch(central_model(a) + 16, "<Q", MAX64).bytes())
    a = bundle()
    add("zip-local-offset-not-a-header.llamafile", "central directory: local header offset points into the runner",
        a.patch(central_model(a) + 16, "<Q", 100).bytes())
    a = bundle()
    add("zip-local-name-length-past-eof.llamafile", "local header name and extra lengths of 65535",
        a.patch(a.members[-1]["local_offset"] + 26, "<HH", 0xFFFF, 0xFFFF).bytes())
    a = bundle()
    add("zip-cd-offset-past-eof.llamafile", "ZIP64 end record: central directory offset 2^48",
        a.patch(a.records["zip64_end"] + 48, "<Q", 1 << 48).bytes())
    a = bundle()
    add("zip-cd-size-past-eof.llamafile", "ZIP64 end record: central directory size 2^48",
        a.patch(a.records["zip64_end"] + 40, "<Q", 1 << 48).bytes())
    a = bundle()
    add("zip-cd-size-offset-overflow.llamafile", "ZIP64 end record: size and offset 2^64-1",
        a.patch(a.records["zip64_end"] + 40, "<QQ", MAX64, MAX64).bytes())
    a = bundle()
    add("zip-entries-max.llamafile", "ZIP64 end record: 2^64-1 entries",
        a.patch(a.records["zip64_end"] + 24, "<QQ", MAX64, MAX64).bytes())
    a = bundle()
    add("zip-entries-more-than-cd.llamafile", "ZIP64 end record: 1000 entries in a 2-entry directory",
        a.patch(a.records["zip64_end"] + 24, "<QQ", 1000, 1000).bytes())
    add("zip-classic-entries-huge.zip", "classic end record: 65535 entries, directory of 0 bytes",
        classic_archive(0xFFFE, 0, len(STUB)))
    add("zip-classic-cd-past-eof.zip", "classic end record: directory at 2^32-2",
        classic_archive(1, 46, 0xFFFFFFFE))
    a = bundle()
    add("zip-locator-past-eof.llamafile", "ZIP64 locator points past the end",
        a.patch(a.records["locator"] + 8, "<Q", 1 << 45).bytes())
    a = bundle()
    add("zip-locator-max.llamafile", "ZIP64 locator points at 2^64-1",
        a.patch(a.records["locator"] + 8, "<Q", MAX64).bytes())
    a = bundle()
    add("zip-locator-not-a-record.llamafile", "ZIP64 locator points at the runner bytes",
        a.patch(a.records["locator"] + 8, "<Q", 16).bytes())
    a = bundle()
    add("zip-multi-disk.llamafile", "end record: 3 disks",
        a.patch(a.records["locator"] + 16, "<I", 3).patch(a.records["end"] + 4, "<HH", 2, 2).bytes())
    a = bundle()
    add("zip-comment-past-eof.llamafile", "end record comment length past the end",
        a.patch(a.records["end"] + 20, "<H", 0xFFFF).bytes())

    compressed = new_archive()
    compressed.add("model.gguf", gguf_member, method=8)
    add("zip-compressed-gguf.llamafile", "model.gguf deflated", compressed.finish().bytes())
    encrypted = new_archive()
    encrypted.add("model.gguf", gguf_member, flags=UTF8_FLAG | 1)
    add("zip-encrypted-gguf.llamafile", "model.gguf flagged encrypted", encrypted.finish().bytes())
    add("zip-no-gguf.llamafile", "no .gguf member", bundle([(".args", b"-n\n4\n"), ("README.txt", b"hello\n")]).bytes())
    add("zip-empty-archive.zip", "an archive with no members", new_archive(prefix=b"").finish().bytes())
    add("zip-two-gguf.llamafile", "two .gguf members",
        bundle([("a.gguf", gguf_member), ("b.gguf", gguf_member)]).bytes())
    add("zip-gguf-not-gguf.llamafile", "model.gguf that is not GGUF", bundle([("model.gguf", b"PK not really" * 10)]).bytes())
    add("zip-gguf-member-bad.llamafile", "model.gguf with tensor count 2^64-1",
        bundle([("model.gguf", gguf(SMALL_KVS, [], tensor_count=MAX64))]).bytes())

    whole = bundle().bytes()
    split = len(whole) // 2
    add("zip-split.cat0.llamafile", "first half of a byte-split bundle (no end record)", whole[:split])
    add("zip-split.cat1.llamafile", "second half of a byte-split bundle (offsets before its start)", whole[split:])
    add("zip-truncated-end.llamafile", "bundle missing its last 10 bytes", whole[:-10])
    return cases


# --- Model-level files: the tiny Llama 3 model rewritten with one defect ----------------------

class ModelFile:
    """A GGUF read into parts: metadata pairs as raw bytes, tensor infos, and where the data starts.
    Values are kept encoded so a rewrite with no change gives back the original bytes."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as handle:
            head = handle.read(24)
            magic, self.version, tensor_count, kv_count = struct.unpack("<4sIQQ", head)
            if magic != b"GGUF":
                raise SystemExit(f"{path}: not a GGUF file")
            # The metadata of the tiny models (their vocabulary) is under 8 MB; read generously.
            blob = head + handle.read(16 << 20)
        self.pairs = []  # (key, type, encoded value)
        position = 24
        for _ in range(kv_count):
            key, position = self._string(blob, position)
            (value_type,) = struct.unpack_from("<I", blob, position)
            start = position + 4
            end = self._skip_value(blob, value_type, start)
            self.pairs.append((key, value_type, blob[start:end]))
            position = end
        self.tensors = []  # [name, dims, type, offset]
        for _ in range(tensor_count):
            name, position = self._string(blob, position)
            (n_dims,) = struct.unpack_from("<I", blob, position)
            dims = list(struct.unpack_from(f"<{n_dims}Q", blob, position + 4))
            position += 4 + 8 * n_dims
            tensor_type, offset = struct.unpack_from("<IQ", blob, position)
            position += 12
            self.tensors.append([name, dims, tensor_type, offset])
        self.alignment = 32
        for key, value_type, raw in self.pairs:
            if key == "general.alignment" and value_type == U32:
                (self.alignment,) = struct.unpack("<I", raw)
        self.data_offset = position + (-position % self.alignment)

    @staticmethod
    def _string(blob, position):
        (length,) = struct.unpack_from("<Q", blob, position)
        start = position + 8
        return blob[start:start + length].decode("utf-8", "replace"), start + length

    @classmethod
    def _skip_value(cls, blob, value_type, position):
        if value_type == STRING:
            (length,) = struct.unpack_from("<Q", blob, position)
            return position + 8 + length
        if value_type == ARRAY:
            element_type, count = struct.unpack_from("<IQ", blob, position)
            position += 12
            if element_type in SCALAR_FORMATS:
                return position + count * struct.calcsize(SCALAR_FORMATS[element_type])
            for _ in range(count):
                position = cls._skip_value(blob, element_type, position)
            return position
        return position + struct.calcsize(SCALAR_FORMATS[value_type])

    def value(self, key):
        for k, value_type, raw in self.pairs:
            if k == key:
                return value_type, raw
        raise KeyError(key)

    def write(self, out_path, pairs=None, tensors=None):
        pairs = self.pairs if pairs is None else pairs
        tensors = self.tensors if tensors is None else tensors
        head = b"GGUF" + u32(self.version) + u64(len(tensors)) + u64(len(pairs))
        head += b"".join(kv(k, t, raw) for k, t, raw in pairs)
        head += b"".join(tensor_info(n, d, t, o) for n, d, t, o in tensors)
        with open(self.path, "rb") as source, open(out_path, "wb") as out:
            out.write(pad_to(head, self.alignment))
            source.seek(self.data_offset)
            while chunk := source.read(4 << 20):
                out.write(chunk)


def scalar(value_type, value):
    return (value_type, struct.pack(SCALAR_FORMATS[value_type], value))


def string_array(items):
    return (ARRAY, u32(STRING) + u64(len(items)) + b"".join(string(s) for s in items))


def model_cases(model):
    """(name, description, pairs-change or None, tensors-change or None). A pairs change maps key → (type, raw)
    or None to delete; a tensors change is a function from the tensor list to a new list."""
    nan = float("nan")
    _, token_types_raw = model.value("tokenizer.ggml.token_type")
    # Drop the last element of the i32 token_type array: count - 1, last 4 bytes removed.
    (element_type, count) = struct.unpack_from("<IQ", token_types_raw, 0)
    short_types = (ARRAY, u32(element_type) + u64(count - 1) + token_types_raw[12:-4])

    def without(name):
        return lambda tensors: [t for t in tensors if t[0] != name]

    def reshape(name, dims):
        return lambda tensors: [[n, dims if n == name else d, t, o] for n, d, t, o in tensors]

    return [
        ("model-block-count-0.gguf", "llama.block_count 0", {"llama.block_count": scalar(U32, 0)}, None),
        ("model-block-count-5.gguf", "llama.block_count 5, tensors for 4", {"llama.block_count": scalar(U32, 5)}, None),
        ("model-block-count-huge.gguf", "llama.block_count 2^32-1", {"llama.block_count": scalar(U32, 0xFFFFFFFF)}, None),
        ("model-embedding-0.gguf", "llama.embedding_length 0", {"llama.embedding_length": scalar(U32, 0)}, None),
        ("model-embedding-huge.gguf", "llama.embedding_length 2^31", {"llama.embedding_length": scalar(U32, 1 << 31)}, None),
        ("model-embedding-mismatch.gguf", "llama.embedding_length 512, tensors of 256",
         {"llama.embedding_length": scalar(U32, 512)}, None),
        ("model-feed-forward-0.gguf", "llama.feed_forward_length 0", {"llama.feed_forward_length": scalar(U32, 0)}, None),
        ("model-feed-forward-mismatch.gguf", "llama.feed_forward_length 1024, tensors of 768",
         {"llama.feed_forward_length": scalar(U32, 1024)}, None),
        ("model-head-count-0.gguf", "llama.attention.head_count 0", {"llama.attention.head_count": scalar(U32, 0)}, None),
        ("model-head-count-kv-0.gguf", "llama.attention.head_count_kv 0",
         {"llama.attention.head_count_kv": scalar(U32, 0)}, None),
        ("model-head-count-huge.gguf", "llama.attention.head_count 2^32-1",
         {"llama.attention.head_count": scalar(U32, 0xFFFFFFFF)}, None),
        ("model-heads-not-multiple-of-kv.gguf", "head_count 8, head_count_kv 3",
         {"llama.attention.head_count_kv": scalar(U32, 3)}, None),
        ("model-embedding-not-divisible-by-heads.gguf", "embedding 256, head_count 7",
         {"llama.attention.head_count": scalar(U32, 7), "llama.attention.head_count_kv": scalar(U32, 7)}, None),
        ("model-head-count-kv-above-heads.gguf", "head_count 8, head_count_kv 16",
         {"llama.attention.head_count_kv": scalar(U32, 16)}, None),
        ("model-context-0.gguf", "llama.context_length 0", {"llama.context_length": scalar(U32, 0)}, None),
        ("model-context-huge.gguf", "llama.context_length 2^32-1 (a KV cache no machine holds)",
         {"llama.context_length": scalar(U32, 0xFFFFFFFF)}, None),
        ("model-rope-dimension-0.gguf", "llama.rope.dimension_count 0", {"llama.rope.dimension_count": scalar(U32, 0)}, None),
        ("model-rope-dimension-odd.gguf", "llama.rope.dimension_count 31", {"llama.rope.dimension_count": scalar(U32, 31)}, None),
        ("model-rope-dimension-huge.gguf", "llama.rope.dimension_count 4096 (head_dim 32)",
         {"llama.rope.dimension_count": scalar(U32, 4096)}, None),
        ("model-rope-base-nan.gguf", "llama.rope.freq_base NaN", {"llama.rope.freq_base": scalar(F32, nan)}, None),
        ("model-rope-base-0.gguf", "llama.rope.freq_base 0", {"llama.rope.freq_base": scalar(F32, 0.0)}, None),
        ("model-rope-base-negative.gguf", "llama.rope.freq_base -10000", {"llama.rope.freq_base": scalar(F32, -10000.0)}, None),
        ("model-epsilon-nan.gguf", "llama.attention.layer_norm_rms_epsilon NaN",
         {"llama.attention.layer_norm_rms_epsilon": scalar(F32, nan)}, None),
        ("model-epsilon-infinite.gguf", "llama.attention.layer_norm_rms_epsilon inf",
         {"llama.attention.layer_norm_rms_epsilon": scalar(F32, float("inf"))}, None),
        ("model-block-count-string.gguf", "llama.block_count is the string \"4\"",
         {"llama.block_count": (STRING, string("4"))}, None),
        ("model-head-count-negative.gguf", "llama.attention.head_count is i32 -8",
         {"llama.attention.head_count": scalar(I32, -8)}, None),
        ("model-embedding-missing.gguf", "no llama.embedding_length", {"llama.embedding_length": None}, None),
        ("model-missing-tensor.gguf", "no blk.2.ffn_up.weight", {}, without("blk.2.ffn_up.weight")),
        ("model-missing-embedding-tensor.gguf", "no token_embd.weight", {}, without("token_embd.weight")),
        ("model-missing-output-norm.gguf", "no output_norm.weight", {}, without("output_norm.weight")),
        ("model-wrong-shape.gguf", "blk.0.attn_q.weight is 256x128", {}, reshape("blk.0.attn_q.weight", [256, 128])),
        ("model-transposed-shape.gguf", "blk.1.ffn_down.weight is 256x768 (transposed)",
         {}, reshape("blk.1.ffn_down.weight", [256, 768])),
        ("model-embedding-rows-short.gguf", "token_embd.weight has 128000 rows for 128256 tokens",
         {}, reshape("token_embd.weight", [256, 128000])),
        ("model-unknown-architecture.gguf", "general.architecture mamba-x",
         {"general.architecture": (STRING, string("mamba-x"))}, None),
        ("model-architecture-missing.gguf", "no general.architecture", {"general.architecture": None}, None),
        ("model-vocab-lengths-differ.gguf", "token_type has one entry fewer than tokens",
         {"tokenizer.ggml.token_type": short_types}, None),
        ("model-vocab-tokens-short.gguf", "tokens has 3 entries, token_type 128256",
         {"tokenizer.ggml.tokens": string_array(["a", "b", "c"])}, None),
        ("model-vocab-missing.gguf", "no tokenizer.ggml.tokens", {"tokenizer.ggml.tokens": None}, None),
        ("model-vocab-tokens-not-strings.gguf", "tokenizer.ggml.tokens is an array of u32",
         {"tokenizer.ggml.tokens": (ARRAY, u32(U32) + u64(2) + u32(1) + u32(2))}, None),
        ("model-bos-out-of-range.gguf", "tokenizer.ggml.bos_token_id 128256",
         {"tokenizer.ggml.bos_token_id": scalar(U32, 128256)}, None),
        ("model-bos-max.gguf", "tokenizer.ggml.bos_token_id 2^32-1",
         {"tokenizer.ggml.bos_token_id": scalar(U32, 0xFFFFFFFF)}, None),
        ("model-eos-out-of-range.gguf", "tokenizer.ggml.eos_token_id 200000",
         {"tokenizer.ggml.eos_token_id": scalar(U32, 200000)}, None),
        ("model-tokenizer-unknown.gguf", "tokenizer.ggml.model xyz",
         {"tokenizer.ggml.model": (STRING, string("xyz"))}, None),
    ]


def arch_cases(arch):
    """Defects of the synthetic models of the other architectures (Tools/make_synthetic_model.py):
    (name, description, the key or tensor the refusal must name, pairs change, tensors change). A pairs
    change may add keys the model lacks."""
    nan = float("nan")

    def without(name):
        return lambda tensors: [t for t in tensors if t[0] != name]

    def reshape(name, dims):
        return lambda tensors: [[n, dims if n == name else d, t, o] for n, d, t, o in tensors]

    def bools(values):
        return (ARRAY, u32(BOOL) + u64(len(values)) + bytes(int(v) for v in values))

    cases = {
        "gemma3": [
            ("no-q-norm", "no blk.0.attn_q_norm.weight", "blk.0.attn_q_norm.weight", {}, without("blk.0.attn_q_norm.weight")),
            ("no-post-ffw-norm", "no blk.5.post_ffw_norm.weight", "blk.5.post_ffw_norm.weight", {},
             without("blk.5.post_ffw_norm.weight")),
            ("k-norm-shape", "blk.2.attn_k_norm.weight has 32 entries for heads of 64", "blk.2.attn_k_norm.weight", {},
             reshape("blk.2.attn_k_norm.weight", [32])),
            ("key-length-mismatch", "gemma3.attention.key_length 32 and value_length 32, tensors for heads of 64",
             "gemma3.rope.dimension_count", {"gemma3.attention.key_length": scalar(U32, 32),
                                     "gemma3.attention.value_length": scalar(U32, 32)}, None),
            ("value-length-differs", "gemma3.attention.value_length 128, key_length 64",
             "gemma3.attention.value_length", {"gemma3.attention.value_length": scalar(U32, 128)}, None),
            ("pattern-length", "gemma3.attention.sliding_window_pattern has 4 booleans for 6 layers",
             "gemma3.attention.sliding_window_pattern", {"gemma3.attention.sliding_window_pattern": bools([1, 1, 1, 0])}, None),
            ("swa-base-nan", "gemma3.rope.freq_base_swa NaN", "gemma3.rope.freq_base_swa",
             {"gemma3.rope.freq_base_swa": scalar(F32, nan)}, None),
            ("softcap-negative", "gemma3.final_logit_softcapping -30", "gemma3.final_logit_softcapping",
             {"gemma3.final_logit_softcapping": scalar(F32, -30.0)}, None),
        ],
        "qwen2": [
            ("q-bias-shape", "blk.1.attn_q.bias has 64 entries for 128", "blk.1.attn_q.bias", {}, reshape("blk.1.attn_q.bias", [64])),
            ("no-ffn-gate", "no blk.3.ffn_gate.weight", "blk.3.ffn_gate.weight", {}, without("blk.3.ffn_gate.weight")),
            ("kv-heads-3", "qwen2.attention.head_count_kv 3 for 4 heads", "qwen2.attention.head_count_kv",
             {"qwen2.attention.head_count_kv": scalar(U32, 3)}, None),
            ("yarn", "qwen2.rope.scaling.type yarn (not computed)", "qwen2.rope.scaling.type",
             {"qwen2.rope.scaling.type": (STRING, string("yarn"))}, None),
        ],
        "qwen3": [
            ("no-k-norm", "no blk.3.attn_k_norm.weight", "blk.3.attn_k_norm.weight", {}, without("blk.3.attn_k_norm.weight")),
            ("key-length-0", "qwen3.attention.key_length 0", "qwen3.attention.key_length",
             {"qwen3.attention.key_length": scalar(U32, 0)}, None),
            ("key-length-odd", "qwen3.attention.key_length 63 (RoPE needs an even size)", "qwen3.attention.key_length",
             {"qwen3.attention.key_length": scalar(U32, 63), "qwen3.attention.value_length": scalar(U32, 63)}, None),
            ("output-shape", "blk.0.attn_output.weight takes 128 inputs, the query is 256 wide", "blk.0.attn_output.weight",
             {}, reshape("blk.0.attn_output.weight", [128, 128])),
        ],
        "phi3": [
            ("qkv-shape", "blk.0.attn_qkv.weight has 256 rows for 384 (q + k + v)", "blk.0.attn_qkv.weight", {},
             reshape("blk.0.attn_qkv.weight", [128, 256])),
            ("up-not-fused", "blk.2.ffn_up.weight has 256 rows: gate and up need 512", "blk.2.ffn_up.weight", {},
             reshape("blk.2.ffn_up.weight", [128, 256])),
            ("rope-factors-shape", "rope_factors_long.weight has 4 entries for 8 rotated pairs", "rope_factors_long.weight",
             {}, reshape("rope_factors_long.weight", [4])),
            ("attn-factor-nan", "phi3.rope.scaling.attn_factor NaN", "phi3.rope.scaling.attn_factor",
             {"phi3.rope.scaling.attn_factor": scalar(F32, nan)}, None),
            ("no-qkv", "neither blk.1.attn_qkv.weight nor blk.1.attn_q.weight", "blk.1.attn_q.weight", {},
             without("blk.1.attn_qkv.weight")),
        ],
    }
    return [(f"arch-{arch}-{name}.gguf", description, names, pairs, tensors)
            for name, description, names, pairs, tensors in cases[arch]]


def apply_pairs(pairs, change, add_missing=False):
    result = []
    for key, value_type, raw in pairs:
        if key in change:
            if change[key] is not None:
                result.append((key,) + change[key])
        else:
            result.append((key, value_type, raw))
    if add_missing:
        present = {key for key, _, _ in pairs}
        result += [(key,) + value for key, value in change.items() if key not in present and value is not None]
    return result


# --- Main ---------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="folder to write into (created if missing)")
    default_model = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testdata",
                                 "models", "tiny-llama3-f16-q4emb.gguf")
    parser.add_argument("--model", default=os.environ.get("SWIFTFILE_BAD_INPUT_MODEL", default_model),
                        help="valid model the model-* files are based on")
    parser.add_argument("--no-models", action="store_true", help="skip the model-* and valid-* model files (32 MB each)")
    parser.add_argument("--families", default="gguf,zip,model,valid",
                        help="comma-separated subset of gguf, zip, model, valid, arch (valid-gguf comes with gguf)")
    parser.add_argument("--arch-models", default=None,
                        help="folder holding tiny-gemma3/qwen2/qwen3/phi3.gguf, the bases of the arch family")
    parser.add_argument("--zip-alignment", type=int, default=65536,
                        help="member data alignment of the zip-* files (65536 as llamafile; small for fuzz seeds)")
    args = parser.parse_args()
    families = set(args.families.split(","))
    known = {"gguf", "zip", "model", "valid", "arch"}
    if families - known:
        raise SystemExit(f"make_bad_inputs: unknown families {sorted(families - known)}")
    if args.no_models:
        families -= {"model", "valid"}
    os.makedirs(args.out, exist_ok=True)
    manifest = []

    def emit(name, family, description, data):
        with open(os.path.join(args.out, name), "wb") as handle:
            handle.write(data)
        manifest.append((name, family, description))

    if "gguf" in families:
        for name, description, data in gguf_cases():
            emit(name, "gguf", description, data)
        emit("valid-small.gguf", "valid-gguf", "well-formed GGUF that is not a model", small_valid_gguf())
    if "zip" in families:
        for name, description, data in zip_cases(args.zip_alignment):
            emit(name, "zip", description, data)

    if families & {"model", "valid"}:
        if not os.path.exists(args.model):
            raise SystemExit(f"make_bad_inputs: model {args.model} missing (use --model or --no-models)")
        model = ModelFile(args.model)
        # The rewriter must reproduce the original exactly, or every model-* file is suspect.
        control = os.path.join(args.out, "valid-model-rewritten.gguf")
        model.write(control)
        if sha256(control) != sha256(args.model):
            raise SystemExit("make_bad_inputs: rewriting the model without changes did not reproduce it")
        if "valid" not in families:
            os.remove(control)
    if "valid" in families:
        manifest.append(("valid-model-rewritten.gguf", "valid", "the base model, parsed and rewritten unchanged"))
        with open(args.model, "rb") as handle:
            weights = handle.read()
        emit("valid-model.llamafile", "valid", "the base model in a llamafile-style bundle", make_bundle([("model.gguf", weights)]).bytes())
        del weights
    if "model" in families:
        for name, description, pairs_change, tensors_change in model_cases(model):
            pairs = apply_pairs(model.pairs, pairs_change)
            missing = set(pairs_change) - {k for k, _, _ in model.pairs}
            if missing:
                raise SystemExit(f"make_bad_inputs: {name}: the base model has no {sorted(missing)}")
            tensors = tensors_change(model.tensors) if tensors_change else None
            model.write(os.path.join(args.out, name), pairs, tensors)
            manifest.append((name, "model", description))

    if "arch" in families:
        # Per architecture: the unchanged model (it must load), then its defects; the fourth manifest column is
        # the key or tensor the one-line refusal must name (beside the architecture).
        for arch in ("gemma3", "qwen2", "qwen3", "phi3"):
            base = ModelFile(os.path.join(args.arch_models or ".", f"tiny-{arch}.gguf"))
            base.write(os.path.join(args.out, f"valid-{arch}.gguf"))
            manifest.append((f"valid-{arch}.gguf", "valid-arch", f"the synthetic {arch} model, rewritten unchanged", arch))
            for name, description, names, pairs_change, tensors_change in arch_cases(arch):
                pairs = apply_pairs(base.pairs, pairs_change, add_missing=True)
                tensors = tensors_change(base.tensors) if tensors_change else None
                base.write(os.path.join(args.out, name), pairs, tensors)
                manifest.append((name, "arch", description, names))

    with open(os.path.join(args.out, "manifest.tsv"), "w") as handle:
        for row in manifest:
            handle.write("\t".join(row) + "\n")
    print(f"make_bad_inputs: wrote {len(manifest)} files to {args.out}")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
