//! `Store::chain_heads` and `Store::chain_at`: what the audit trail seals of each stream's
//! chain, and what the index holds later at a sealed sequence number — the segment's value,
//! the retention cut's value, "deleted inside a run", or "missing".

mod common;

use common::*;
use store::verify::ChainAt;

const DAY: i64 = 86_400 * media::time::TICKS_PER_SEC;

#[test]
fn heads_and_values_at_a_sealed_seq_through_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store::Store::open(dir.path(), options(2)).unwrap();
    let s = add_stream(&store, "gate");
    let idle = add_stream(&store, "hall");
    assert!(
        store.chain_heads().unwrap().is_empty(),
        "nothing recorded yet"
    );
    let mut w = store.writer(s).unwrap();
    record(&mut w, 0, 240, T0); // 16 s: several 2-second segments
    w.close().unwrap();

    let segs = store.segments(s, 0, i64::MAX).unwrap();
    assert!(segs.len() >= 4, "{} segments", segs.len());
    let heads = store.chain_heads().unwrap();
    assert_eq!(heads.len(), 1, "the idle stream {idle} has no head");
    let h = &heads[0];
    let newest = segs.last().unwrap();
    assert_eq!((h.stream_id, h.seq, h.end), (s, newest.seq, newest.end));
    assert_eq!(h.camera, "gate");
    assert_eq!(h.kind, store::StreamKind::Main);
    assert_eq!(h.file_sha256, newest.file_sha256);
    assert_eq!(store.chain_at(s, h.seq).unwrap(), ChainAt::Segment(h.chain));

    // Values of the first segments before retention deletes them.
    let ChainAt::Segment(second) = store.chain_at(s, 2).unwrap() else {
        panic!("segment 2 is indexed");
    };
    // Retention deletes segments 1 and 2 (max 1 day, a day after segment 2 ended): one run,
    // whose cut keeps the value of segment 2 only.
    store.set_stream_retention(s, 0, 1, 1).unwrap();
    let r = store.run_retention(segs[1].end + DAY).unwrap();
    assert_eq!(r.deleted_segments, 2);
    assert_eq!(store.chain_at(s, 2).unwrap(), ChainAt::Cut(second));
    assert_eq!(store.chain_at(s, 1).unwrap(), ChainAt::Deleted);
    // The head is unchanged; a seq never indexed (or removed by hand) is missing.
    assert_eq!(store.chain_heads().unwrap()[0].chain, h.chain);
    assert_eq!(store.chain_at(s, h.seq + 1).unwrap(), ChainAt::Missing);
    assert_eq!(store.chain_at(idle, 1).unwrap(), ChainAt::Missing);
}
