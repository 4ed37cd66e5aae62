//! Crafted GGUF files: a valid one with every value type, and every way of breaking it.

extern crate std;

use super::*;
use alloc::vec;
use alloc::vec::Vec;

/// Builds GGUF bytes by hand (a test-only writer, independent of the reader).
#[derive(Default)]
struct Builder {
    version: u32,
    kv: Vec<u8>,
    kv_count: u64,
    tensors: Vec<u8>,
    tensor_count: u64,
    data: Vec<u8>,
    alignment: usize,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Builder {
    fn new(version: u32) -> Self {
        Self { version, alignment: 32, ..Default::default() }
    }

    fn kv_raw(&mut self, key: &str, tag: u32, payload: &[u8]) -> &mut Self {
        put_str(&mut self.kv, key);
        self.kv.extend_from_slice(&tag.to_le_bytes());
        self.kv.extend_from_slice(payload);
        self.kv_count += 1;
        self
    }

    /// Appends tensor data (padded to the alignment) and its description.
    fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, data: &[u8]) -> &mut Self {
        while !self.data.len().is_multiple_of(self.alignment) {
            self.data.push(0);
        }
        let offset = self.data.len() as u64;
        self.data.extend_from_slice(data);
        self.tensor_raw(name, dims, ty, offset)
    }

    fn tensor_raw(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        put_str(&mut self.tensors, name);
        self.tensors.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            self.tensors.extend_from_slice(&d.to_le_bytes());
        }
        self.tensors.extend_from_slice(&ty.to_le_bytes());
        self.tensors.extend_from_slice(&offset.to_le_bytes());
        self.tensor_count += 1;
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"GGUF");
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.tensor_count.to_le_bytes());
        out.extend_from_slice(&self.kv_count.to_le_bytes());
        out.extend_from_slice(&self.kv);
        out.extend_from_slice(&self.tensors);
        while !out.len().is_multiple_of(self.alignment) {
            out.push(0);
        }
        out.extend_from_slice(&self.data);
        out
    }
}

fn str_payload(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    put_str(&mut v, s);
    v
}

fn array_payload(elem: u32, count: u64, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&elem.to_le_bytes());
    v.extend_from_slice(&count.to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// A small valid file with every value type, a nested array and two tensors.
fn sample() -> Builder {
    let mut b = Builder::new(3);
    b.kv_raw("u8", 0, &[200])
        .kv_raw("i8", 1, &(-5i8).to_le_bytes())
        .kv_raw("u16", 2, &60000u16.to_le_bytes())
        .kv_raw("i16", 3, &(-30000i16).to_le_bytes())
        .kv_raw("u32", 4, &4_000_000_000u32.to_le_bytes())
        .kv_raw("i32", 5, &(-7i32).to_le_bytes())
        .kv_raw("f32", 6, &1.5f32.to_le_bytes())
        .kv_raw("bool", 7, &[1])
        .kv_raw("str", 8, &str_payload("héllo"))
        .kv_raw("u64", 10, &u64::MAX.to_le_bytes())
        .kv_raw("i64", 11, &(-9i64).to_le_bytes())
        .kv_raw("f64", 12, &2.25f64.to_le_bytes());
    let mut strs = Vec::new();
    for s in ["a", "bc", "<|im_end|>"] {
        put_str(&mut strs, s);
    }
    b.kv_raw("strs", 9, &array_payload(8, 3, &strs));
    let mut f32s = Vec::new();
    for x in [0.5f32, -1.0] {
        f32s.extend_from_slice(&x.to_le_bytes());
    }
    b.kv_raw("f32s", 9, &array_payload(6, 2, &f32s));
    // Nested: array of two i32 arrays.
    let mut nested = array_payload(5, 1, &3i32.to_le_bytes());
    nested.extend_from_slice(&array_payload(5, 2, &[4, 0, 0, 0, 5, 0, 0, 0]));
    b.kv_raw("nested", 9, &array_payload(9, 2, &nested));
    let f32_data: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
    b.tensor("t.f32", &[3, 2], 0, &f32_data);
    b.tensor("t.q8", &[32], 8, &[1u8; 34]);
    b
}

#[test]
fn reads_every_value_type() {
    let bytes = sample().build();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.metadata("u8"), Some(&Value::U8(200)));
    assert_eq!(g.metadata("i8"), Some(&Value::I8(-5)));
    assert_eq!(g.metadata("u16"), Some(&Value::U16(60000)));
    assert_eq!(g.metadata("i16"), Some(&Value::I16(-30000)));
    assert_eq!(g.get_u32("u32").unwrap(), 4_000_000_000);
    assert_eq!(g.get_i64("i32").unwrap(), -7);
    assert_eq!(g.get_f32("f32").unwrap(), 1.5);
    assert!(g.get_bool("bool").unwrap());
    assert_eq!(g.get_str("str").unwrap(), "héllo");
    assert_eq!(g.metadata("u64"), Some(&Value::U64(u64::MAX)));
    assert_eq!(g.get_i64("i64").unwrap(), -9);
    assert_eq!(g.get_f32("f64").unwrap(), 2.25);
    let strs: Vec<&str> = g.get_array("strs").unwrap().iter_str().unwrap().map(|s| s.unwrap()).collect();
    assert_eq!(strs, ["a", "bc", "<|im_end|>"]);
    let f: Vec<f32> = g.get_array("f32s").unwrap().iter_f32().unwrap().map(|s| s.unwrap()).collect();
    assert_eq!(f, [0.5, -1.0]);
    let nested: Vec<Vec<i32>> = g
        .get_array("nested")
        .unwrap()
        .iter_arrays()
        .unwrap()
        .map(|a| a.unwrap().iter_i32().unwrap().map(|x| x.unwrap()).collect())
        .collect();
    assert_eq!(nested, vec![vec![3], vec![4, 5]]);
    let t = g.tensor("t.f32").unwrap();
    assert_eq!(t.shape(), &[3, 2]);
    assert_eq!((t.row_len(), t.rows()), (3, 2));
    assert_eq!(t.ty, TensorType::F32);
    let data = g.tensor_data(t);
    assert_eq!(data.len(), 24);
    assert_eq!(&data[4..8], &1f32.to_le_bytes());
    assert_eq!(g.tensor_data(g.tensor("t.q8").unwrap()), &[1u8; 34]);
    assert_eq!(g.tensors().len(), 2);
}

#[test]
fn version_2_is_read() {
    let mut b = sample();
    b.version = 2;
    assert_eq!(Gguf::parse(&b.build()).unwrap().version(), 2);
}

#[test]
fn typed_getters_explain_missing_and_wrong_types() {
    let bytes = sample().build();
    let g = Gguf::parse(&bytes).unwrap();
    let e = g.get_str("nope").unwrap_err();
    assert_eq!(e, GgufError::MissingKey("nope".into()));
    assert_eq!(std::format!("{e}"), "GGUF metadata key \"nope\" is missing");
    let e = g.get_str("u8").unwrap_err();
    assert!(matches!(e, GgufError::WrongType { expected: "string", found: "u8", .. }), "{e:?}");
    assert!(matches!(g.get_u32("i8"), Err(GgufError::OutOfRange { .. })));
    assert!(matches!(g.get_i64("u64"), Err(GgufError::OutOfRange { .. })));
    assert!(g.get_array("strs").unwrap().iter_f32().is_err());
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample().build();
    for len in 0..bytes.len() {
        let r = Gguf::parse(&bytes[..len]);
        assert!(r.is_err(), "parse succeeded on a file truncated to {len} of {} bytes", bytes.len());
    }
}

#[test]
fn bad_magic_and_version() {
    let mut bytes = sample().build();
    bytes[0] = b'X';
    assert!(matches!(Gguf::parse(&bytes), Err(GgufError::BadMagic(_))));
    let mut b = sample();
    b.version = 1;
    assert_eq!(Gguf::parse(&b.build()).unwrap_err(), GgufError::UnsupportedVersion(1));
    b.version = 4;
    assert_eq!(Gguf::parse(&b.build()).unwrap_err(), GgufError::UnsupportedVersion(4));
}

#[test]
fn huge_counts_fail_without_allocating() {
    let mut bytes = sample().build();
    bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(Gguf::parse(&bytes).is_err());
    let mut bytes = sample().build();
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(Gguf::parse(&bytes).is_err());
    // A string length near u64::MAX.
    let mut b = Builder::new(3);
    b.kv_raw("s", 8, &u64::MAX.to_le_bytes());
    assert!(matches!(Gguf::parse(&b.build()), Err(GgufError::Truncated { .. })));
    // An array of u64::MAX strings, and of u64::MAX u32s (size overflow).
    let mut b = Builder::new(3);
    b.kv_raw("a", 9, &array_payload(8, u64::MAX, &[]));
    assert!(matches!(Gguf::parse(&b.build()), Err(GgufError::Truncated { .. })));
    let mut b = Builder::new(3);
    b.kv_raw("a", 9, &array_payload(4, u64::MAX / 2, &[]));
    assert!(matches!(Gguf::parse(&b.build()), Err(GgufError::Truncated { .. })));
}

#[test]
fn bad_value_type_tags() {
    let mut b = Builder::new(3);
    b.kv_raw("x", 13, &[0; 8]);
    let e = Gguf::parse(&b.build()).unwrap_err();
    assert!(matches!(e, GgufError::BadValueType { tag: 13, offset: 33 }), "{e:?}");
    assert!(std::format!("{e}").contains("byte 33"));
    let mut b = Builder::new(3);
    b.kv_raw("x", 9, &array_payload(99, 1, &[0; 8]));
    assert!(matches!(Gguf::parse(&b.build()), Err(GgufError::BadValueType { tag: 99, .. })));
}

#[test]
fn bad_utf8_and_duplicates() {
    let mut b = Builder::new(3);
    b.kv_raw("x", 8, &[2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe]);
    assert!(matches!(Gguf::parse(&b.build()), Err(GgufError::BadUtf8 { .. })));
    let mut b = Builder::new(3);
    b.kv_raw("x", 0, &[1]).kv_raw("x", 0, &[2]);
    assert_eq!(Gguf::parse(&b.build()).unwrap_err(), GgufError::DuplicateKey("x".into()));
    let mut b = Builder::new(3);
    b.tensor("t", &[1], 0, &[0; 4]).tensor("t", &[1], 0, &[0; 4]);
    assert_eq!(Gguf::parse(&b.build()).unwrap_err(), GgufError::DuplicateTensor("t".into()));
}

#[test]
fn alignment_is_honoured_and_checked() {
    let mut b = Builder::new(3);
    b.alignment = 64;
    b.kv_raw("general.alignment", 4, &64u32.to_le_bytes());
    b.tensor("a", &[1], 0, &[0; 4]).tensor("b", &[2], 0, &[0; 8]);
    let bytes = b.build();
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.alignment(), 64);
    assert_eq!(g.data_start() % 64, 0);
    assert_eq!(g.tensor("b").unwrap().data_offset - g.data_start(), 64);

    let mut b = Builder::new(3);
    b.kv_raw("general.alignment", 4, &48u32.to_le_bytes());
    assert_eq!(Gguf::parse(&b.build()).unwrap_err(), GgufError::BadAlignment(48));

    let mut b = Builder::new(3);
    b.data = vec![0; 64];
    b.tensor_raw("t", &[1], 0, 4);
    let e = Gguf::parse(&b.build()).unwrap_err();
    assert!(matches!(e, GgufError::BadTensor { reason: TensorProblem::Unaligned { offset: 4, alignment: 32 }, .. }));
}

#[test]
fn bad_tensor_descriptions() {
    let check = |dims: &[u64], ty: u32, offset: u64, data: usize| {
        let mut b = Builder::new(3);
        b.data = vec![0; data];
        b.tensor_raw("w", dims, ty, offset);
        Gguf::parse(&b.build()).unwrap_err()
    };
    let reason = |e: GgufError| match e {
        GgufError::BadTensor { reason, .. } => reason,
        e => panic!("unexpected {e:?}"),
    };
    assert_eq!(reason(check(&[1, 1, 1, 1, 1], 0, 0, 32)), TensorProblem::TooManyDims(5));
    assert_eq!(reason(check(&[], 0, 0, 32)), TensorProblem::EmptyShape);
    assert_eq!(reason(check(&[4, 0], 0, 0, 32)), TensorProblem::EmptyShape);
    assert_eq!(reason(check(&[u64::MAX, 2], 0, 0, 32)), TensorProblem::TooLarge);
    assert_eq!(reason(check(&[33], 8, 0, 64)), TensorProblem::RowNotBlockMultiple { row: 33, block: 32 });
    assert!(matches!(reason(check(&[9], 0, 0, 32)), TensorProblem::PastEnd { .. }));
    assert!(matches!(reason(check(&[1], 0, u64::MAX - 31, 32)), TensorProblem::PastEnd { .. }));
    let e = check(&[4], 21, 0, 32);
    assert_eq!(e, GgufError::UnknownTensorType { name: "w".into(), id: 21 });
    assert!(std::format!("{e}").contains("type id 21"));

    let mut b = Builder::new(3);
    b.data = vec![0; 64];
    b.tensor_raw("a", &[16], 0, 0).tensor_raw("b", &[4], 0, 32);
    let e = Gguf::parse(&b.build()).unwrap_err();
    assert_eq!(e, GgufError::BadTensor { name: "b".into(), reason: TensorProblem::Overlaps });
    assert_eq!(std::format!("{e}"), "GGUF tensor \"b\" is invalid: its data overlaps another tensor's data");
}

/// `depth` arrays nested in one another, the innermost empty (of u8).
fn nested_payload(depth: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(depth * 12);
    for _ in 1..depth {
        v.extend_from_slice(&array_payload(9, 1, &[]));
    }
    v.extend_from_slice(&array_payload(0, 0, &[]));
    v
}

#[test]
fn deep_nesting_is_refused_without_recursing() {
    // 100,000 levels overflowed the stack before the limit (the firmware's stack has no guard).
    let mut b = Builder::new(3);
    b.kv_raw("deep", 9, &nested_payload(100_000));
    let e = Gguf::parse(&b.build()).unwrap_err();
    assert!(matches!(e, GgufError::TooDeep { .. }), "{e:?}");
    assert!(std::format!("{e}").contains("nested more than 8 levels"), "{e}");

    let mut b = Builder::new(3);
    b.kv_raw("ok", 9, &nested_payload(MAX_NESTING));
    let bytes = b.build();
    let g = Gguf::parse(&bytes).unwrap();
    let mut a = g.get_array("ok").unwrap();
    for _ in 1..MAX_NESTING {
        a = a.iter_arrays().unwrap().next().unwrap().unwrap();
    }
    assert!(a.is_empty());

    let mut b = Builder::new(3);
    b.kv_raw("one too many", 9, &nested_payload(MAX_NESTING + 1));
    assert!(matches!(Gguf::parse(&b.build()), Err(GgufError::TooDeep { offset }) if offset > 0));
}

#[test]
fn counts_beyond_an_index_are_refused() {
    let mut bytes = sample().build();
    bytes[8..16].copy_from_slice(&(1u64 << 33).to_le_bytes());
    let e = Gguf::parse(&bytes).unwrap_err();
    assert_eq!(e, GgufError::TooMany { what: "tensors", count: 1 << 33 });
    assert!(std::format!("{e}").contains("8589934592 tensors"));
}

#[test]
fn the_memory_bound_trusts_counts_only_as_far_as_the_bytes_go() {
    let bytes = sample().build();
    // 15 entries and 2 tensors: small, whatever the file's length.
    let honest = parse_memory_bound(&bytes, 100 << 20);
    assert!(honest < 8192, "{honest}");
    // A header claiming 2^32 of each: bounded by what 64 MiB can describe.
    let mut header = [0u8; 24];
    header[8..24].fill(0xff);
    let lying = parse_memory_bound(&header, 64 << 20);
    let by_bytes = parse_memory_bound(&[], 64 << 20);
    assert_eq!(lying, by_bytes);
    assert!(lying < 20 * (64 << 20), "{lying}");
}

/// A file of `n` one-element f32 tensors called `t<i>` (the last renamed to clash when
/// `duplicate_last`), each 32 bytes apart.
fn many_tensors(n: usize, duplicate_last: bool) -> Vec<u8> {
    let mut b = Builder::new(3);
    b.data = vec![0; n * 32];
    for i in 0..n {
        let name = if duplicate_last && i == n - 1 { std::format!("t{}", n / 2) } else { std::format!("t{i}") };
        b.tensor_raw(&name, &[1], 0, (i * 32) as u64);
    }
    b.build()
}

#[test]
fn eighty_thousand_tensors_are_indexed() {
    // Quadratic duplicate checks took 11 s for this on the host (`cargo xtask bench gguf`
    // measures the parse against a linear baseline).
    let n = 80_000;
    let bytes = many_tensors(n, false);
    let g = Gguf::parse(&bytes).unwrap();
    assert_eq!(g.tensors().len(), n);
    for i in (0..n).step_by(997) {
        let name = std::format!("t{i}");
        let t = g.tensor(&name).unwrap();
        assert_eq!((t.name, t.data_offset), (name.as_str(), g.data_start() + i * 32));
    }
    assert!(g.tensor("t80000").is_none() && g.tensor("").is_none());
    let bytes = many_tensors(n, true);
    assert_eq!(Gguf::parse(&bytes).unwrap_err(), GgufError::DuplicateTensor(std::format!("t{}", n / 2)));
}

#[test]
fn hand_made_tensor_infos_do_not_panic() {
    let t = TensorInfo {
        name: "x",
        dims: [u64::MAX, 3, 1, 1],
        n_dims: 2,
        ty: TensorType::F32,
        data_offset: usize::MAX,
        data_len: 10,
    };
    assert_eq!(t.elements(), u64::MAX);
    let empty = TensorInfo { dims: [0, 3, 1, 1], ..t.clone() };
    assert_eq!(empty.rows(), 0);
    let bytes = sample().build();
    assert_eq!(Gguf::parse(&bytes).unwrap().tensor_data(&t), &[] as &[u8]);
}
