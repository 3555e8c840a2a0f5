#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Every seed is made here from scratch (no downloaded data): tiny safetensors files and
shard sets, a toy byte-level BPE tokenizer.json and variants, and run configs with
--set overrides. Inputs that once crashed a target are added by hand as crash-*.
Run: python3 fuzz/make_seeds.py  (idempotent; rewrites only the seed-* files)
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"@@@\n"  # the part separator every target splits its input on


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- safetensors --------------------------------------------------------------------

def safetensors(tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape, bytes)] laid out contiguously in the given order."""
    header, off = {}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in tensors)


def seeds_safetensors():
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    put("safetensors", "single-f32", b"\0" + safetensors([("w", "F32", [2, 2], f32)], {"format": "pt"}))
    put("safetensors", "dtypes", b"\0" + safetensors([
        ("a.f64", "F64", [1], struct.pack("<d", 1.5)), ("a.f16", "F16", [2], b"\0<\0<"),
        ("a.bf16", "BF16", [2], b"\x80?\x80?"), ("a.i64", "I64", [1], struct.pack("<q", -3)),
        ("a.i32", "I32", [1], struct.pack("<i", 7)), ("a.i16", "I16", [1], b"\1\0"),
        ("a.i8", "I8", [2], b"\1\xff"), ("a.u8", "U8", [0], b""), ("a.bool", "BOOL", [3], b"\0\1\0"),
    ]))
    put("safetensors", "unaligned", b"\0" + safetensors([("x", "I8", [1], b"\1"), ("y", "F32", [1], f32[:4])],
                                                        pad=False))
    put("safetensors", "empty-header", b"\0" + struct.pack("<Q", 2) + b"{}")
    put("safetensors", "bad-bool", b"\0" + safetensors([("m", "BOOL", [2], b"\0\2")]))
    gap = b'{"g":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}'
    put("safetensors", "gap", b"\0" + struct.pack("<Q", len(gap)) + gap + b"\0\0")
    a = safetensors([("layers.0.w", "F32", [2], f32[:8])])
    b = safetensors([("layers.1.w", "F32", [2], f32[8:]), ("norm", "U8", [2], b"\1\2")])
    index = json.dumps({"metadata": {"total_size": 18}, "weight_map": {
        "layers.0.w": "a.safetensors", "layers.1.w": "b.safetensors", "norm": "b.safetensors"}}).encode()
    put("safetensors", "sharded", b"\1" + index + SEP + a + SEP + b)
    bad_index = json.dumps({"weight_map": {"layers.0.w": "a.safetensors", "ghost": "c.safetensors"}}).encode()
    put("safetensors", "sharded-missing", b"\1" + bad_index + SEP + a)


# ---- tokenizer ----------------------------------------------------------------------

def byte_level_tokenizer():
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["Ġ", ".", ",", "!", "H", "W"]
    vocab = {c: i for i, c in enumerate(chars)}
    merges = ["h e", "l l", "he ll", "o Ġ", "Ġ w"]
    for m in merges:
        vocab["".join(m.split())] = len(vocab)
    return {
        "version": "1.0",
        "added_tokens": [
            {"id": len(vocab), "content": "<s>", "special": True, "normalized": False},
            {"id": len(vocab) + 1, "content": "</s>", "special": True, "normalized": False},
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [len(vocab)], "tokens": ["<s>"]}}},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "fuse_unk": False,
                  "byte_fallback": False, "vocab": vocab, "merges": merges},
    }


def sentencepiece_tokenizer():
    pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in (0x0A, 0x21, 0xC3, 0xA9)] + \
             ["▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "ll", "▁w", "or"]
    vocab = {p: i for i, p in enumerate(pieces)}
    return {
        "added_tokens": [{"id": 0, "content": "<unk>", "special": True},
                         {"id": 1, "content": "<s>", "special": True},
                         {"id": 2, "content": "</s>", "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
            {"type": "NFKC"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing", "single": "<s>:0 $A:0", "pair": "$A $B",
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True,
                  "vocab": vocab, "merges": [["▁", "h"], ["l", "l"], ["▁", "w"], ["o", "r"]]},
    }


def seeds_tokenizer():
    bl = byte_level_tokenizer()
    put("tokenizer", "byte-level", json.dumps(bl).encode() + SEP + "Hello world, héllo!".encode())
    split = dict(bl, pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\d{1,3}| ?[^\\s\\p{L}\\d]+"}, "behavior": "Isolated",
         "invert": False},
        {"type": "Digits", "individual_digits": True}, {"type": "ByteLevel", "add_prefix_space": False,
                                                         "use_regex": False}]},
        normalizer={"type": "Lowercase"})
    put("tokenizer", "split-digits", json.dumps(split).encode() + SEP + b"Hello 12345 world!!")
    cfg = {"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": True,
           "add_eos_token": True}
    put("tokenizer", "with-config", json.dumps(bl).encode() + SEP + b"<s>hello</s>" + SEP +
        json.dumps(cfg).encode())
    sp = sentencepiece_tokenizer()
    put("tokenizer", "sentencepiece", json.dumps(sp).encode() + SEP + "hello world\n!é".encode())
    meta = dict(sp, normalizer=None, pre_tokenizer={"type": "Metaspace", "replacement": "▁",
                                                     "prepend_scheme": "first", "split": True},
                decoder={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"})
    put("tokenizer", "metaspace", json.dumps(meta).encode() + SEP + b"hello  world")
    # Deep nesting must be an InputError naming the path, not a stack overflow.
    deep = {"type": "Lowercase"}
    for _ in range(80):
        deep = {"type": "Sequence", "normalizers": [deep]}
    put("tokenizer", "deep-normalizer", json.dumps(dict(sp, normalizer=deep)).encode())


# ---- config ------------------------------------------------------------------------

CONFIG = """\
[model]
path = "${LACO_FUZZ_MODEL:-/models/llama}"
dtype = "bfloat16"
threads = 2

[calibration]
file = "data/calib.jsonl"
samples = 8
max_tokens = 64
representation = "last_token"

[laco]
merge_layers = 3
lowest_layer = 2
highest_layer = 30
interval = 1
threshold = 0.7
rule = "keep_last"
scope = "ffn"
early_reject = true

[output]
dir = "out/$${literal}"
shard_size = "2GiB"
dtype = "float16"

[parallel]
candidate_width = 2

[profile]
file = "prof.h5"

[eval]
tasks = ["piqa", "arc_easy"]
limit = 10
"""


def seeds_config():
    put("config", "full", CONFIG)
    put("config", "overrides", CONFIG.encode() + SEP + b"laco.threshold=0.5" + SEP + b"eval.tasks=piqa,hellaswag" +
        SEP + b"output.dir=2024" + SEP + b"model.path=${HOME:-/h}/m")
    put("config", "minimal", '[model]\npath = "m"\n[calibration]\nfile = "c.txt"\n[output]\ndir = "o"\n')
    put("config", "nested-default", '[model]\npath = "${LACO_UNSET_A:-${LACO_UNSET_B:-${LACO_UNSET_C:-/x}}}"\n'
        '[calibration]\nfile = "c.txt"\n[output]\ndir = "o"\n')
    put("config", "set-only", SEP.join([b"", b"model.path=/m", b"calibration.file=/c", b"output.dir=/o"]))


if __name__ == "__main__":
    seeds_safetensors()
    seeds_tokenizer()
    seeds_config()
