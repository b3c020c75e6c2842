//! The floor `adlake bench reproject` measures the projector against: decompress and parse
//! the same bodies, nothing else. It lives in this crate so it is compiled exactly as the
//! projector is (same optimisation level, the same JSON parser): a like-for-like comparison,
//! not a different build.

use adlake_raw::BodyHash;

use crate::contract::Format as BodyFormat;

/// Decompresses (and verifies) every body, then parses it into the borrowed document
/// ([`crate::json::Json`]) the projector decodes from. CSV bodies are only decompressed.
/// Returns the uncompressed bytes processed.
pub fn decompress_and_parse(bodies: &[(BodyHash, BodyFormat, &[u8])]) -> Result<u64, String> {
    let mut total = 0u64;
    for (hash, format, compressed) in bodies {
        let plain = adlake_raw::codec::decode_body(hash, compressed).map_err(|e| e.to_string())?;
        total += plain.len() as u64;
        if *format == BodyFormat::Csv {
            continue;
        }
        crate::json::Json::parse(&plain).map_err(|e| format!("body {hash}: {e}"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_uncompressed_bytes_and_rejects_bad_json() {
        let good = br#"{"data":[{"a":1}]}"#;
        let bad = br#"{"data":["#;
        let z = |b: &[u8]| zstd::encode_all(b, 3).unwrap();
        let (zg, zb) = (z(good), z(bad));
        let ok = [(BodyHash::of(good), BodyFormat::Json, zg.as_slice())];
        assert_eq!(decompress_and_parse(&ok).unwrap(), good.len() as u64);
        let broken = [(BodyHash::of(bad), BodyFormat::Json, zb.as_slice())];
        assert!(decompress_and_parse(&broken).is_err());
    }
}
