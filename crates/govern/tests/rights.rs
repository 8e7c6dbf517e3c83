//! The rights model end to end over a real database: presets, scopes, the self-change and
//! last-administrator rules, requests → decisions → grants, and grant expiry.

use govern::*;

const PW: &str = "Cổng-trường-2024!";
const TICKS: i64 = 90_000;

fn open() -> (tempfile::TempDir, Govern) {
    let dir = tempfile::tempdir().unwrap();
    let g = Govern::open_with(
        &dir.path().join("vigil.db"),
        PasswordParams::insecure_for_tests(),
    )
    .unwrap();
    (dir, g)
}

fn fresh(g: &Govern, u: &User, now: i64) -> User {
    g.user_by_id(u.id, now).unwrap()
}

fn doc() -> Document {
    Document {
        file: "letter.pdf".into(),
        mime: "application/pdf".into(),
        size: 10,
        sha256: "00".repeat(32),
    }
}

#[test]
fn former_roles_map_to_presets() {
    let (_d, g) = open();
    let it = g.create_user("it", "", Role::Administrator, PW, 0).unwrap();
    let bgh = g.create_user("bgh", "", Role::Leadership, PW, 0).unwrap();
    let bv = g.create_user("bv", "", Role::Guard, PW, 0).unwrap();
    let xem = g.create_user("xem", "", Role::Viewer, PW, 0).unwrap();
    assert_eq!(it.roles, vec!["it"]);
    assert!(authorize(&it, &Action::ManageUsers));
    assert!(authorize(&it, &Action::ConfigureCameras));
    assert!(
        !authorize(&it, &Action::RequestInbox),
        "IT does not approve"
    );
    assert!(authorize(&bgh, &Action::RequestInbox));
    assert!(authorize(&bgh, &Action::ReadAudit));
    assert!(!authorize(&bgh, &Action::ConfigureCameras));
    assert!(authorize(&bv, &Action::CreateRequest { camera: 1 }));
    assert!(!authorize(&bv, &Action::RequestInbox));
    assert!(authorize(&xem, &Action::LiveView { camera: 3 }));
    assert!(!authorize(&xem, &Action::ViewHealth));
    for u in [&it, &bgh, &bv, &xem] {
        assert!(!authorize(u, &Action::DeleteFootage));
    }
    // The guard's window: 30 minutes back, not more.
    let now = 1_000_000 * TICKS;
    let p = |start| Action::Playback {
        camera: 1,
        start,
        now,
    };
    assert!(authorize(&bv, &p(now - 29 * 60 * TICKS)));
    assert!(!authorize(&bv, &p(now - 31 * 60 * TICKS)));
    assert!(!authorize(&it, &p(now - 60 * TICKS)), "IT has no playback");
}

#[test]
fn nobody_grants_themselves_and_the_last_user_admin_stays() {
    let (_d, g) = open();
    let it = g.create_user("it", "", Role::Administrator, PW, 0).unwrap();
    let bv = g.create_user("bv", "", Role::Guard, PW, 0).unwrap();
    let it_role = g.role_id("it").unwrap();
    let lead = g.role_id("leadership").unwrap();
    // Own roles: refused.
    assert!(matches!(
        g.set_user_roles(&it, it.id, &[it_role, lead], 1),
        Err(GovernError::SelfChange)
    ));
    // A role one holds: refused.
    assert!(matches!(
        g.set_role_rights(
            &it,
            it_role,
            &[Assignment::new(Right::ExportApprove, Scope::All)],
            1
        ),
        Err(GovernError::SelfChange)
    ));
    // PlaybackAny never goes into a role.
    assert!(matches!(
        g.set_role_rights(
            &it,
            lead,
            &[Assignment::new(Right::PlaybackAny, Scope::All)],
            1
        ),
        Err(GovernError::NotAssignable(_))
    ));
    // A guard cannot manage anything.
    assert!(matches!(
        g.set_user_roles(&bv, it.id, &[], 1),
        Err(GovernError::NotAllowed)
    ));
    // Promote the guard to IT, then the guard demotes the first admin: fine (one is left).
    g.set_user_roles(&it, bv.id, &[it_role], 2).unwrap();
    let bv = fresh(&g, &bv, 2);
    assert!(authorize(&bv, &Action::ManageUsers));
    g.set_user_roles(&bv, it.id, &[lead], 3).unwrap();
    let it = fresh(&g, &it, 3);
    assert!(!authorize(&it, &Action::ManageUsers));
    assert_eq!(it.role, Role::Leadership, "the former-role column follows");
    // The last holder cannot disable or demote themselves (SelfChange covers it).
    assert!(matches!(
        g.set_user_disabled(&bv, bv.id, true, 5),
        Err(GovernError::SelfChange)
    ));
}

#[test]
fn the_last_holder_refusal() {
    let (_d, g) = open();
    let a = g.create_user("a", "", Role::Administrator, PW, 0).unwrap();
    let b = g.create_user("b", "", Role::Administrator, PW, 0).unwrap();
    let lead = g.role_id("leadership").unwrap();
    // A custom role with Users for b only; then b edits IT to drop Users: a loses it.
    let extra = g.create_role(&a, "extra", "", 1).unwrap();
    g.set_role_rights(&a, extra, &[Assignment::new(Right::Users, Scope::All)], 1)
        .unwrap();
    g.set_user_roles(&a, b.id, &[extra], 2).unwrap();
    let b = fresh(&g, &b, 2);
    // a removes Users from… a holds IT, so a edits `extra` (a does not hold it) to empty:
    // that would leave a as holder → allowed. Instead first move a out of IT by b:
    g.set_user_roles(&b, a.id, &[lead], 3).unwrap();
    // Now only b holds Users. b cannot demote or disable itself (SelfChange); nobody else
    // can act. Re-give a the IT role and disable b by a — fine. Then b, disabled, is not
    // counted: a demoting itself → SelfChange, a editing IT (holds it) → SelfChange.
    g.set_user_roles(&b, a.id, &[g.role_id("it").unwrap()], 4)
        .unwrap();
    let a = fresh(&g, &a, 4);
    g.set_user_disabled(&a, b.id, true, 5).unwrap();
    // a (the last enabled holder) edits `extra` (b's role, b disabled) — allowed.
    g.set_role_rights(&a, extra, &[], 6).unwrap();
    // Re-enable b: b holds `extra` (empty now) — no Users. a is the last.
    g.set_user_disabled(&a, b.id, false, 7).unwrap();
    // Give b a role with Users through a new role c2, then b removes IT's Users right:
    // a loses it, b keeps it → allowed. Then b tries to remove Users from… the only role
    // b holds is c2 → SelfChange. And b demoting a is fine (a has none).
    // The refusal: a (holder via IT) edits `extra` to give b Users — then b's disabling
    // of a is fine… so instead: a tries to disable b while b is the only holder.
    let c2 = g.create_role(&a, "c2", "", 8).unwrap();
    g.set_role_rights(&a, c2, &[Assignment::new(Right::Users, Scope::All)], 8)
        .unwrap();
    g.set_user_roles(&a, b.id, &[c2], 9).unwrap();
    let b = fresh(&g, &b, 9);
    g.set_role_rights(
        &b,
        g.role_id("it").unwrap(),
        &[Assignment::new(Right::LiveView, Scope::All)],
        10,
    )
    .unwrap();
    // b is now the only holder. a has IT (no Users any more).
    let a = fresh(&g, &a, 10);
    assert!(!authorize(&a, &Action::ManageUsers));
    // Give a a role with Users that b does not hold, then a tries to disable b → allowed
    // (a remains); then a would be last. Instead test the refusal directly: let a hold c2
    // too, then b removes Users from c2? SelfChange. So: a holds c3 (Users) and b holds c2;
    // a disables b → fine; b re-enabled; then b edits c3 (not held by b) to drop Users
    // while a is the only *other* holder → b keeps c2 → allowed. Make b lose c2 first by a:
    let c3 = g.create_role(&b, "c3", "", 11).unwrap();
    g.set_role_rights(&b, c3, &[Assignment::new(Right::Users, Scope::All)], 11)
        .unwrap();
    g.set_user_roles(&b, a.id, &[c3], 12).unwrap();
    let a = fresh(&g, &a, 12);
    g.set_user_roles(&a, b.id, &[], 13).unwrap();
    // Only a holds Users (c3). b has nothing. Now disabling a, demoting a or emptying c3
    // must be refused for every path: a itself → SelfChange; b → NotAllowed.
    let b = fresh(&g, &b, 13);
    assert!(matches!(
        g.set_user_disabled(&a, a.id, true, 14),
        Err(GovernError::SelfChange)
    ));
    assert!(matches!(
        g.set_role_rights(&a, c3, &[], 14),
        Err(GovernError::SelfChange)
    ));
    assert!(matches!(
        g.set_user_disabled(&b, a.id, true, 14),
        Err(GovernError::NotAllowed)
    ));
    // The last-holder rule itself: a gives b role c2 (empty of Users now? c2 still has
    // Users) — b becomes a holder; a disables b: allowed (a remains). Re-enable; b
    // disables a: allowed (b remains). Re-enable a; now b strips c3 (a's only role):
    // a loses Users, b keeps: allowed. Finally a stale `a` value (still thinking it holds
    // Users) is refused by the check on the stored state:
    g.set_user_roles(&a, b.id, &[c2], 15).unwrap();
    let b = fresh(&g, &b, 15);
    g.set_role_rights(&b, c3, &[], 16).unwrap();
    // b is the only holder; a's stale value still says it holds Users. a tries to empty
    // c2 (b's role, a does not hold it): that would leave nobody → LastUserAdmin.
    assert!(matches!(
        g.set_role_rights(&a, c2, &[], 17),
        Err(GovernError::LastUserAdmin)
    ));
    // And a tries to disable b, or demote b: LastUserAdmin.
    assert!(matches!(
        g.set_user_disabled(&a, b.id, true, 18),
        Err(GovernError::LastUserAdmin)
    ));
    assert!(matches!(
        g.set_user_roles(&a, b.id, &[lead], 19),
        Err(GovernError::LastUserAdmin)
    ));
    assert!(authorize(&fresh(&g, &b, 20), &Action::ManageUsers));
}

#[test]
fn requests_decisions_grants_and_expiry() {
    let (_d, g) = open();
    let it = g.create_user("it", "", Role::Administrator, PW, 0).unwrap();
    let bgh = g.create_user("bgh", "", Role::Leadership, PW, 0).unwrap();
    let bgh2 = g.create_user("bgh2", "", Role::Leadership, PW, 0).unwrap();
    let bv = g.create_user("bv", "", Role::Guard, PW, 0).unwrap();
    let acc = g
        .create_user_with_roles(
            &it,
            "kt",
            "",
            PW,
            &[g.role_id("accountant").unwrap()],
            None,
            0,
        )
        .unwrap();
    let now_s = 2_000_000_000i64;
    let start = (now_s - 3 * 86_400) * TICKS;
    let end = start + 600 * TICKS;
    let nr = NewRequest {
        purpose: Purpose::Violation,
        purpose_other: String::new(),
        reason: "Học sinh đánh nhau ở cổng".into(),
        cameras: vec![1, 2],
        start,
        end,
        want_export: true,
        want_hold: true,
        document: doc(),
    };
    // The accountant and IT cannot file; the guard can.
    assert!(matches!(
        g.create_request(&acc, &nr, now_s),
        Err(GovernError::NotAllowed)
    ));
    assert!(matches!(
        g.create_request(&it, &nr, now_s),
        Err(GovernError::NotAllowed)
    ));
    let id = g.create_request(&bv, &nr, now_s).unwrap();
    // A principal who also holds the guard role may file; nobody approves their own.
    let guard_role = g.role_id("guard").unwrap();
    let lead_role = g.role_id("leadership").unwrap();
    g.set_user_roles(&it, bgh.id, &[lead_role, guard_role], now_s)
        .unwrap();
    let bgh = fresh(&g, &bgh, now_s);
    let own = g.create_request(&bgh, &nr, now_s).unwrap();
    let approve = Decision {
        approve: true,
        comment: "Đồng ý".into(),
        grantees: vec![
            Grantee {
                user_id: bv.id,
                can_view: true,
                can_export: false,
            },
            Grantee {
                user_id: it.id,
                can_view: false,
                can_export: true,
            },
        ],
        expires_at: now_s + 7 * 86_400,
    };
    assert!(matches!(
        g.decide_request(&bgh, own, &approve, now_s),
        Err(GovernError::SelfApproval)
    ));
    // The guard cannot approve; IT cannot approve.
    assert!(matches!(
        g.decide_request(&bv, id, &approve, now_s),
        Err(GovernError::SelfApproval)
    ));
    assert!(matches!(
        g.decide_request(&it, id, &approve, now_s),
        Err(GovernError::NotAllowed)
    ));
    // Before approval: the guard cannot see three days back.
    let play = |u: &User, now: i64| {
        authorize(
            u,
            &Action::Playback {
                camera: 1,
                start: start + 10 * TICKS,
                now: now * TICKS,
            },
        )
    };
    assert!(!play(&bv, now_s));
    let q = g.decide_request(&bgh, id, &approve, now_s).unwrap();
    assert_eq!(q.status, Status::Approved);
    assert_eq!(q.decider.as_deref(), Some("bgh"));
    assert!(matches!(
        g.decide_request(&bgh2, id, &approve, now_s),
        Err(GovernError::NotPending)
    ));
    let bv = fresh(&g, &bv, now_s);
    let it = fresh(&g, &it, now_s);
    assert!(play(&bv, now_s), "granted");
    assert!(
        !authorize(
            &bv,
            &Action::Playback {
                camera: 3,
                start: start + 10 * TICKS,
                now: now_s * TICKS
            }
        ),
        "other camera"
    );
    assert!(
        !authorize(
            &bv,
            &Action::Playback {
                camera: 1,
                start: end + TICKS,
                now: now_s * TICKS
            }
        ),
        "after the window"
    );
    assert!(!play(&it, now_s), "IT may export, not view");
    assert!(authorize(
        &it,
        &Action::ExportPerform {
            request: id,
            now: now_s
        }
    ));
    assert!(!authorize(
        &bv,
        &Action::ExportPerform {
            request: id,
            now: now_s
        }
    ));
    assert!(!authorize(
        &bgh,
        &Action::ExportPerform {
            request: id,
            now: now_s
        }
    ));
    // Expired: refused, even with the value loaded before expiry.
    let later = now_s + 8 * 86_400;
    assert!(!play(&bv, later));
    assert!(!authorize(
        &it,
        &Action::ExportPerform {
            request: id,
            now: later
        }
    ));
    assert!(!play(&fresh(&g, &bv, later), later));
    // Export records.
    let e = g.record_export(&it, id, "/data/exports/1", now_s).unwrap();
    assert_eq!(g.exports(id).unwrap()[0].id, e);
    assert!(matches!(
        g.record_export(&bv, id, "/x", now_s),
        Err(GovernError::NotAllowed)
    ));
    // Holds: recorded, released by an approver only.
    g.set_request_holds(id, &[7]).unwrap();
    assert!(matches!(
        g.release_request_holds(&bv, id, now_s),
        Err(GovernError::NotAllowed)
    ));
    assert_eq!(g.release_request_holds(&bgh2, id, now_s).unwrap(), vec![7]);
    assert!(g.release_request_holds(&bgh2, id, now_s).is_err());
    // Rejection needs a comment.
    let r2 = g.create_request(&bv, &nr, now_s).unwrap();
    let reject = Decision {
        approve: false,
        comment: " ".into(),
        grantees: vec![],
        expires_at: 0,
    };
    assert!(matches!(
        g.decide_request(&bgh, r2, &reject, now_s),
        Err(GovernError::Invalid(_))
    ));
    let reject = Decision {
        comment: "Không đủ căn cứ".into(),
        ..reject
    };
    assert_eq!(
        g.decide_request(&bgh, r2, &reject, now_s).unwrap().status,
        Status::Rejected
    );
    assert_eq!(g.requests(RequestFilter::Pending, 100).unwrap().len(), 1);
    assert_eq!(g.requests(RequestFilter::By(bv.id), 100).unwrap().len(), 2);
    assert_eq!(
        g.requests(RequestFilter::GrantedTo(it.id), 100)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn scopes_zone_own_zone_camera() {
    let (_d, g) = open();
    let it = g.create_user("it", "", Role::Administrator, PW, 0).unwrap();
    // A camera table like the store's, in the same database.
    {
        let c = rusqlite::Connection::open(_d.path().join("vigil.db")).unwrap();
        c.execute_batch(
            "CREATE TABLE camera (id INTEGER PRIMARY KEY, zone TEXT);
             INSERT INTO camera VALUES (1, 'A'), (2, 'A'), (3, 'B'), (4, NULL);",
        )
        .unwrap();
    }
    let head = g
        .create_user_with_roles(
            &it,
            "tbp",
            "",
            PW,
            &[g.role_id("department_head").unwrap()],
            Some("A"),
            0,
        )
        .unwrap();
    assert!(authorize(&head, &Action::LiveView { camera: 1 }));
    assert!(authorize(&head, &Action::LiveView { camera: 2 }));
    assert!(!authorize(&head, &Action::LiveView { camera: 3 }));
    assert!(!authorize(&head, &Action::LiveView { camera: 4 }));
    let r = g.create_role(&it, "cổng B", "", 0).unwrap();
    g.set_role_rights(
        &it,
        r,
        &[
            Assignment::new(Right::LiveView, Scope::Zone("B".into())),
            Assignment::new(Right::LiveView, Scope::Camera(4)),
        ],
        0,
    )
    .unwrap();
    let u = g
        .create_user_with_roles(&it, "b", "", PW, &[r], None, 0)
        .unwrap();
    assert!(!authorize(&u, &Action::LiveView { camera: 1 }));
    assert!(authorize(&u, &Action::LiveView { camera: 3 }));
    assert!(authorize(&u, &Action::LiveView { camera: 4 }));
    for s in ["all", "own_zone", "zone:Cổng", "camera:12"] {
        assert_eq!(Scope::parse(s).unwrap().to_db(), s);
    }
    assert!(Scope::parse("camera:x").is_none());
}
