//! Body bytes as stored: zstd frames named by the sha256 of what they decompress to.
//!
//! Invariants: a body is only ever handed out after it decompressed and hashed to its name
//! ([`decode_body`], [`decode_body_shared`]); a frame header that misstates its content size
//! never makes the decoder read memory it did not write, nor reserve more than
//! [`ONE_CALL_LIMIT`] up front.

use std::sync::Arc;

use crate::error::{RawError, Result};
use crate::id::BodyHash;

/// zstd level for bodies: level 3 is the sweet spot of speed and ratio for JSON reports.
pub const ZSTD_LEVEL: i32 = 3;

/// Frames whose header states a size up to this are decompressed in one call into a buffer of
/// exactly that size; larger claims (or none) go through the streaming decoder, so a forged
/// header cannot make us reserve gigabytes for a small object.
pub const ONE_CALL_LIMIT: u64 = 256 << 20;

/// Decompresses one zstd frame. Bodies are written by `zstd::bulk::compress`, whose frame header
/// records the uncompressed size: decompressing in one call into a buffer of that size skips
/// the streaming decoder's doubling buffer and its copies through a stack buffer.
pub fn decompress(compressed: &[u8]) -> std::io::Result<Vec<u8>> {
    match zstd::zstd_safe::get_frame_content_size(compressed) {
        // A header can understate (concatenated frames): then the streaming decoder decides.
        Ok(Some(size)) if size <= ONE_CALL_LIMIT => {
            zstd::bulk::decompress(compressed, size as usize)
                .or_else(|_| zstd::stream::decode_all(compressed))
        }
        _ => zstd::stream::decode_all(compressed),
    }
}

pub fn decode_body(hash: &BodyHash, compressed: &[u8]) -> Result<Vec<u8>> {
    let bytes = decompress(compressed).map_err(|e| zstd_error(hash, e))?;
    check_hash(hash, &bytes)?;
    Ok(bytes)
}

fn zstd_error(hash: &BodyHash, e: std::io::Error) -> RawError {
    RawError::CorruptBody { hash: hash.to_hex(), detail: format!("zstd: {e}") }
}

/// A body's bytes must hash to the name it is stored under.
fn check_hash(hash: &BodyHash, bytes: &[u8]) -> Result<()> {
    let actual = BodyHash::of(bytes);
    if actual != *hash {
        return Err(RawError::CorruptBody {
            hash: hash.to_hex(),
            detail: format!("content hashes to {actual}"),
        });
    }
    Ok(())
}

/// [`decode_body`] straight into the shared buffer readers hold: decompressing into a Vec and
/// then `Arc::from` copied every body a second time, into a second allocation of its size.
pub fn decode_body_shared(hash: &BodyHash, compressed: &[u8]) -> Result<Arc<[u8]>> {
    let shared = match zstd::zstd_safe::get_frame_content_size(compressed) {
        Ok(Some(size)) if size <= ONE_CALL_LIMIT => decompress_shared(compressed, size as usize),
        _ => None,
    };
    let body = match shared {
        Some(body) => body,
        // Concatenated frames, or no size in the header: the general path.
        None => Arc::from(decompress(compressed).map_err(|e| zstd_error(hash, e))?),
    };
    check_hash(hash, &body)?;
    Ok(body)
}

/// One frame of `size` bytes decompressed into a new `Arc<[u8]>`; `None` when the frame does
/// not hold exactly that many bytes. The buffer is not zeroed first: zeroing it was a pass
/// over every body's bytes, and its page faults, that decompression then overwrote.
fn decompress_shared(compressed: &[u8], size: usize) -> Option<Arc<[u8]>> {
    let mut slots = Arc::<[u8]>::new_uninit_slice(size);
    let mut out = Unfilled { slots: Arc::get_mut(&mut slots)?, filled: 0 };
    let written =
        zstd::bulk::Decompressor::new().ok()?.decompress_to_buffer(compressed, &mut out).ok()?;
    if written != size || out.filled != size {
        return None;
    }
    // SAFETY: zstd wrote `filled` bytes contiguously from the start (the `WriteBuf` contract),
    // and that is all `size` of them.
    Some(unsafe { slots.assume_init() })
}

/// A buffer zstd decompresses into without it being initialised first: the `Vec` spare
/// capacity idiom, for the slots of an `Arc<[u8]>`.
struct Unfilled<'a> {
    slots: &'a mut [std::mem::MaybeUninit<u8>],
    /// How many bytes from the start zstd has written.
    filled: usize,
}

// SAFETY: `as_slice` exposes only the `filled` bytes zstd reported writing, `capacity` and
// `as_mut_ptr` describe exactly the slots, and nothing here reads unwritten memory.
unsafe impl zstd::zstd_safe::WriteBuf for Unfilled<'_> {
    fn as_slice(&self) -> &[u8] {
        // SAFETY: the first `filled` slots were written by zstd (see `filled_until`).
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<u8>(), self.filled) }
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.slots.as_mut_ptr().cast::<u8>()
    }

    unsafe fn filled_until(&mut self, n: usize) {
        self.filled = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_shape_decompresses_to_its_bytes() {
        let body: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let sized = zstd::bulk::compress(&body, ZSTD_LEVEL).unwrap();
        assert!(
            matches!(zstd::zstd_safe::get_frame_content_size(&sized), Ok(Some(n)) if n == body.len() as u64)
        );
        assert_eq!(decompress(&sized).unwrap(), body, "one call, sized from the header");

        let streamed = zstd::stream::encode_all(&body[..], ZSTD_LEVEL).unwrap();
        assert!(
            matches!(zstd::zstd_safe::get_frame_content_size(&streamed), Ok(None)),
            "a streamed frame states no size"
        );
        assert_eq!(decompress(&streamed).unwrap(), body);

        let mut two = sized.clone();
        two.extend_from_slice(&zstd::bulk::compress(b"tail", ZSTD_LEVEL).unwrap());
        let mut both = body.clone();
        both.extend_from_slice(b"tail");
        assert_eq!(
            decompress(&two).unwrap(),
            both,
            "a header that understates falls back to streaming"
        );

        assert!(decompress(&sized[..sized.len() / 2]).is_err());
        let hash = BodyHash::of(&body);
        assert_eq!(decode_body(&hash, &sized).unwrap(), body);
        assert!(matches!(
            decode_body(&BodyHash::of(b"other"), &sized),
            Err(RawError::CorruptBody { .. })
        ));
        assert_eq!(&*decode_body_shared(&hash, &sized).unwrap(), &body[..]);
        assert!(matches!(
            decode_body_shared(&BodyHash::of(b"other"), &sized),
            Err(RawError::CorruptBody { .. })
        ));
        assert_eq!(
            &*decode_body_shared(&hash, &streamed).unwrap(),
            &body[..],
            "no size in the header"
        );
        assert_eq!(
            &*decode_body_shared(&BodyHash::of(&both), &two).unwrap(),
            &both[..],
            "an understating header"
        );
        assert!(
            matches!(
                decode_body_shared(&hash, &sized[..sized.len() / 2]),
                Err(RawError::CorruptBody { .. })
            ),
            "a truncated frame"
        );
    }

    /// A single-segment frame of one raw block whose header states `stated` bytes.
    fn raw_frame(content: &[u8], stated: u8) -> Vec<u8> {
        let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, stated];
        let block = 1 | (content.len() as u32) << 3;
        frame.extend_from_slice(&block.to_le_bytes()[..3]);
        frame.extend_from_slice(content);
        frame
    }

    #[test]
    fn a_frame_that_holds_other_than_its_stated_size_is_refused_not_read() {
        let content = b"forty bytes of body, give or take a few.";
        let hash = BodyHash::of(content);
        let valid = raw_frame(content, content.len() as u8);
        assert_eq!(
            decompress_shared(&valid, content.len()).as_deref(),
            Some(&content[..]),
            "the hand-built frame is valid"
        );
        assert_eq!(&*decode_body_shared(&hash, &valid).unwrap(), &content[..]);
        for stated in [content.len() + 8, content.len() - 8] {
            let frame = raw_frame(content, stated as u8);
            assert!(
                matches!(zstd::zstd_safe::get_frame_content_size(&frame), Ok(Some(n)) if n == stated as u64)
            );
            assert!(
                decompress_shared(&frame, stated).is_none(),
                "stated {stated}: no body from slots zstd did not fill"
            );
            assert!(
                matches!(decode_body_shared(&hash, &frame), Err(RawError::CorruptBody { .. })),
                "stated {stated}"
            );
        }
    }
}
