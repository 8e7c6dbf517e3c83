//! RTP packetization (H.264 RFC 6184, H.265 RFC 7798) done once per access unit and shared
//! by every client, and the per-client header rewriting that sends it over RTSP
//! interleaved TCP without copying the picture data.

use std::io::IoSlice;

use bytes::Bytes;
use media::Codec;
use tokio::io::AsyncWriteExt;

use crate::nal::AccessUnit;

/// Largest RTP payload we send (keeps packets under a 1400-byte MTU with the header).
pub const MAX_PAYLOAD: usize = 1388;

/// Dynamic payload type used for video.
pub const PAYLOAD_TYPE: u8 = 96;

/// One RTP packet without its RTP header: a small prefix (the FU indicator/header, or
/// nothing for a single NAL packet) and a shared slice of the NAL unit.
#[derive(Clone, Debug)]
pub struct Packet {
    prefix: [u8; 3],
    prefix_len: u8,
    body: Bytes,
    marker: bool,
}

impl Packet {
    pub fn len(&self) -> usize {
        self.prefix_len as usize + self.body.len()
    }
}

/// An access unit ready to send: its packets, shared (via `Arc`) by all clients.
#[derive(Debug)]
pub struct PacketizedAu {
    pub is_key: bool,
    pub packets: Vec<Packet>,
    /// Total RTP payload bytes.
    pub bytes: usize,
}

/// Packetizes one access unit. Parameter sets in `prepend` are sent first (used to put
/// SPS/PPS in-band before key frames that lack them).
pub fn packetize(codec: Codec, au: &AccessUnit, prepend: &[Bytes]) -> PacketizedAu {
    let mut packets = Vec::new();
    let all: Vec<&Bytes> = prepend.iter().chain(au.nals.iter()).collect();
    for (i, nal) in all.iter().enumerate() {
        let last_nal = i + 1 == all.len();
        let hdr_len = match codec {
            Codec::H264 => 1,
            Codec::H265 => 2,
        };
        if nal.len() <= MAX_PAYLOAD || nal.len() <= hdr_len {
            packets.push(Packet {
                prefix: [0; 3],
                prefix_len: 0,
                body: (*nal).clone(),
                marker: last_nal,
            });
            continue;
        }
        let (prefix_base, fu_type, prefix_len): ([u8; 3], u8, u8) = match codec {
            Codec::H264 => ([(nal[0] & 0xe0) | 28, 0, 0], nal[0] & 0x1f, 2),
            Codec::H265 => (
                [(nal[0] & 0x81) | (49 << 1), nal[1], 0],
                (nal[0] >> 1) & 0x3f,
                3,
            ),
        };
        let chunk = MAX_PAYLOAD - prefix_len as usize;
        let payload = nal.slice(hdr_len..);
        let n = payload.len().div_ceil(chunk);
        for k in 0..n {
            let body = payload.slice(k * chunk..((k + 1) * chunk).min(payload.len()));
            let mut fu = fu_type;
            if k == 0 {
                fu |= 0x80;
            }
            let end = k + 1 == n;
            if end {
                fu |= 0x40;
            }
            let mut prefix = prefix_base;
            prefix[prefix_len as usize - 1] = fu;
            packets.push(Packet {
                prefix,
                prefix_len,
                body,
                marker: last_nal && end,
            });
        }
    }
    let bytes = packets.iter().map(Packet::len).sum();
    PacketizedAu {
        is_key: au.is_key,
        packets,
        bytes,
    }
}

/// The per-client RTP state: SSRC, next sequence number.
#[derive(Clone, Copy, Debug)]
pub struct RtpState {
    pub ssrc: u32,
    pub seq: u16,
    pub channel: u8,
}

/// Packets per vectored write; headers live on the stack.
const BATCH: usize = 32;
/// Interleaved header (4) + RTP header (12) + largest FU prefix (3).
const HDR: usize = 19;

/// Writes one access unit to `w` as interleaved RTP packets with timestamp `rtp_ts`.
/// Returns the number of bytes written. No picture data is copied in user space.
pub async fn send_au<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    st: &mut RtpState,
    au: &PacketizedAu,
    rtp_ts: u32,
) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut hdrs = [[0u8; HDR]; BATCH];
    for batch in au.packets.chunks(BATCH) {
        let mut hlens = [0usize; BATCH];
        for (i, p) in batch.iter().enumerate() {
            let h = &mut hdrs[i];
            let rtp_len = 12 + p.len();
            h[0] = b'$';
            h[1] = st.channel;
            h[2..4].copy_from_slice(&(rtp_len as u16).to_be_bytes());
            h[4] = 0x80;
            h[5] = PAYLOAD_TYPE | if p.marker { 0x80 } else { 0 };
            h[6..8].copy_from_slice(&st.seq.to_be_bytes());
            h[8..12].copy_from_slice(&rtp_ts.to_be_bytes());
            h[12..16].copy_from_slice(&st.ssrc.to_be_bytes());
            let pl = p.prefix_len as usize;
            h[16..16 + pl].copy_from_slice(&p.prefix[..pl]);
            hlens[i] = 16 + pl;
            st.seq = st.seq.wrapping_add(1);
        }
        let mut slices: [IoSlice<'_>; BATCH * 2] = [IoSlice::new(&[]); BATCH * 2];
        let mut total = 0;
        for (i, p) in batch.iter().enumerate() {
            slices[2 * i] = IoSlice::new(&hdrs[i][..hlens[i]]);
            slices[2 * i + 1] = IoSlice::new(&p.body);
            total += hlens[i] + p.body.len();
        }
        write_all_vectored(w, &mut slices[..batch.len() * 2]).await?;
        written += total as u64;
    }
    Ok(written)
}

/// `write_all` for vectored writes: loops over partial writes (bounded: each round
/// writes at least one byte or fails).
pub async fn write_all_vectored<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    mut slices: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        let n = w.write_vectored(slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nal(codec: Codec, len: usize) -> Bytes {
        let mut v: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        match codec {
            Codec::H264 => v[0] = 0x65,
            Codec::H265 => {
                v[0] = 0x26;
                v[1] = 0x01;
            }
        }
        Bytes::from(v)
    }

    /// Reassembles what `send_au` wrote and checks it against the input NALs.
    async fn roundtrip(codec: Codec, lens: &[usize]) {
        let nals: Vec<Bytes> = lens.iter().map(|&l| nal(codec, l)).collect();
        let au = AccessUnit {
            nals: nals.clone(),
            is_key: true,
        };
        let p = packetize(codec, &au, &[]);
        let mut out = Vec::new();
        let mut st = RtpState {
            ssrc: 0x1234_5678,
            seq: 65534,
            channel: 0,
        };
        let n = send_au(&mut out, &mut st, &p, 777).await.unwrap();
        assert_eq!(n as usize, out.len());
        assert_eq!(st.seq, 65534u16.wrapping_add(p.packets.len() as u16));
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut i = 0;
        let mut seq = 65534u16;
        let mut markers = 0;
        while i < out.len() {
            assert_eq!(out[i], b'$');
            let len = u16::from_be_bytes([out[i + 2], out[i + 3]]) as usize;
            let pkt = &out[i + 4..i + 4 + len];
            assert!(len <= MAX_PAYLOAD + 12);
            assert_eq!(u16::from_be_bytes([pkt[2], pkt[3]]), seq);
            assert_eq!(u32::from_be_bytes(pkt[4..8].try_into().unwrap()), 777);
            seq = seq.wrapping_add(1);
            let marker = pkt[1] & 0x80 != 0;
            markers += marker as usize;
            let pl = &pkt[12..];
            match (codec, pl[0] & 0x1f, (pl[0] >> 1) & 0x3f) {
                (Codec::H264, 28, _) => {
                    if pl[1] & 0x80 != 0 {
                        got.push(vec![(pl[0] & 0xe0) | (pl[1] & 0x1f)]);
                    }
                    got.last_mut().unwrap().extend_from_slice(&pl[2..]);
                }
                (Codec::H265, _, 49) => {
                    if pl[2] & 0x80 != 0 {
                        got.push(vec![(pl[0] & 0x81) | ((pl[2] & 0x3f) << 1), pl[1]]);
                    }
                    got.last_mut().unwrap().extend_from_slice(&pl[3..]);
                }
                _ => got.push(pl.to_vec()),
            }
            i += 4 + len;
            if i == out.len() {
                assert!(marker, "last packet lacks the marker bit");
            }
        }
        assert_eq!(markers, 1);
        let want: Vec<Vec<u8>> = nals.iter().map(|n| n.to_vec()).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn h264_single_and_fu_a() {
        roundtrip(Codec::H264, &[10, 1388, 1389, 100_000]).await;
    }

    #[tokio::test]
    async fn h265_single_and_fu() {
        roundtrip(Codec::H265, &[10, 1388, 5000, 70_001]).await;
    }
}
