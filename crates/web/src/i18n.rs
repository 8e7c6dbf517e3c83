//! The one translation table: every user-visible string, Vietnamese first, English second.

/// A UI language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn from_code(code: &str) -> Lang {
        if code.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

/// (key, Vietnamese, English). Keys are stable identifiers used in code and tests.
static TABLE: &[(&str, &str, &str)] = &[
    (
        "app.name",
        "Vigil — Giám sát camera",
        "Vigil — Camera monitoring",
    ),
    ("nav.live", "Xem trực tiếp", "Live"),
    ("nav.playback", "Xem lại", "Playback"),
    ("nav.cameras", "Camera", "Cameras"),
    ("nav.storage", "Lưu trữ", "Storage"),
    ("nav.health", "Tình trạng", "Health"),
    ("nav.logout", "Đăng xuất", "Log out"),
];

/// The text for `key` in `lang`; the key itself when missing (a test checks none is).
pub fn t(lang: Lang, key: &str) -> &'static str {
    match TABLE.iter().find(|(k, _, _)| *k == key) {
        Some((_, vi, en)) => match lang {
            Lang::Vi => vi,
            Lang::En => en,
        },
        None => {
            tracing::warn!(key, "missing translation");
            "??"
        }
    }
}

/// Every key of the table (for tests and the JavaScript modules' string bundle).
pub fn keys() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(k, _, _)| *k)
}
