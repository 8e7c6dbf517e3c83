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
    // login, set-up, errors (auth.rs)
    ("login.title", "Đăng nhập", "Log in"),
    ("login.username", "Tên đăng nhập", "User name"),
    ("login.password", "Mật khẩu", "Password"),
    ("login.submit", "Đăng nhập", "Log in"),
    ("login.invalid", "Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    (
        "login.account_locked",
        "Tài khoản tạm khóa do đăng nhập sai nhiều lần. Thử lại sau",
        "Account temporarily locked after repeated failed logins. Try again after",
    ),
    (
        "login.address_locked",
        "Máy này tạm bị chặn do đăng nhập sai nhiều lần. Thử lại sau",
        "This computer is temporarily blocked after repeated failed logins. Try again after",
    ),
    ("setup.title", "Thiết lập lần đầu", "First-run set-up"),
    (
        "setup.hint",
        "Chưa có tài khoản nào. Tạo tài khoản quản trị (CNTT) đầu tiên; không có mật khẩu mặc định.",
        "No account exists yet. Create the first administrator (IT) account; there is no default password.",
    ),
    ("setup.display_name", "Họ và tên", "Full name"),
    ("setup.password_confirm", "Nhập lại mật khẩu", "Password again"),
    (
        "setup.password_rules",
        "Ít nhất 10 ký tự; không dùng mật khẩu phổ biến (admin, 123456, password…).",
        "At least 10 characters; no common passwords (admin, 123456, password…).",
    ),
    ("setup.submit", "Tạo tài khoản quản trị", "Create the administrator"),
    ("setup.mismatch", "Hai mật khẩu không khớp.", "The two passwords differ."),
    ("setup.done_already", "Hệ thống đã được thiết lập.", "The system is already set up."),
    ("setup.too_short", "Mật khẩu quá ngắn: cần ít nhất 10 ký tự.", "The password is too short: use at least 10 characters."),
    ("setup.common", "Mật khẩu quá phổ biến: hãy chọn mật khẩu khác.", "The password is too common: choose another."),
    (
        "setup.bad_username",
        "Tên đăng nhập chỉ gồm chữ cái không dấu, số, '.', '_' hoặc '-' (tối đa 64).",
        "User names use letters, digits, '.', '_' or '-' (at most 64).",
    ),
    ("error.forbidden", "Bạn không có quyền thực hiện việc này.", "You are not allowed to do this."),
    (
        "error.csrf",
        "Yêu cầu bị từ chối (thiếu mã bảo vệ biểu mẫu). Hãy tải lại trang.",
        "Request refused (missing form protection token). Reload the page.",
    ),
    ("error.internal", "Lỗi hệ thống; xem nhật ký máy chủ.", "System error; see the server log."),
    ("error.not_found", "Không tìm thấy.", "Not found."),
    // IT pages (pages.rs) — PAGES-KEYS
    ("unit.days", "ngày", "days"),
    ("cameras.add", "Thêm camera", "Add a camera"),
    ("cameras.edit", "Sửa", "Edit"),
    ("cameras.name", "Tên camera", "Camera"),
    ("cameras.zone", "Khu vực", "Zone"),
    ("cameras.department", "Bộ phận phụ trách", "Responsible department"),
    ("cameras.main_url", "Luồng chính (RTSP)", "Main stream (RTSP)"),
    ("cameras.sub_url", "Luồng phụ (RTSP)", "Sub-stream (RTSP)"),
    ("cameras.username", "Tài khoản camera", "Camera user name"),
    ("cameras.password", "Mật khẩu camera", "Camera password"),
    ("cameras.password_keep", "(để trống: giữ mật khẩu đã lưu)", "(leave empty to keep the stored password)"),
    ("cameras.schedule", "Lịch ghi hình", "Recording schedule"),
    ("cameras.schedule_hint", "Lịch: ví dụ “mon-fri 06:00-18:00 continuous; sat,sun off; default continuous”. Để trống: ghi liên tục. Dung lượng: ví dụ 380G; để trống: không giới hạn riêng.", "Schedule: e.g. “mon-fri 06:00-18:00 continuous; sat,sun off; default continuous”. Empty: record continuously. Quota: e.g. 380G; empty: no quota of its own."),
    ("cameras.quota", "Hạn mức dung lượng", "Quota"),
    ("cameras.min_days", "Lưu tối thiểu (ngày)", "Keep at least (days)"),
    ("cameras.max_days", "Lưu tối đa (ngày)", "Keep at most (days)"),
    ("cameras.retention", "Thời gian lưu", "Retention"),
    ("cameras.enabled", "Đang bật", "Enabled"),
    ("cameras.disabled", "Đã tắt", "Disabled"),
    ("cameras.enable", "Bật", "Enable"),
    ("cameras.disable", "Tắt", "Disable"),
    ("cameras.state", "Trạng thái", "State"),
    ("cameras.save", "Lưu", "Save"),
    ("cameras.cancel", "Hủy", "Cancel"),
    ("cameras.none", "Chưa có camera nào.", "No cameras yet."),
    ("cameras.test", "Kiểm tra kết nối", "Test connection"),
    ("cameras.test_result", "Kết quả kiểm tra", "Connection test"),
    ("cameras.test_ok", "Kết nối được, ảnh chụp nhanh", "Connected; snapshot"),
    ("cameras.test_failed", "Không kết nối được", "Connection failed"),
    ("cameras.err.name", "Cần đặt tên camera.", "The camera needs a name."),
    ("cameras.err.url", "Địa chỉ không phải rtsp:// hợp lệ", "Not a valid rtsp:// URL"),
    ("cameras.err.url_credentials", "Không ghi tài khoản, mật khẩu trong địa chỉ: dùng các ô Tài khoản và Mật khẩu camera.", "Do not put credentials in the URL: use the camera user name and password fields."),
    ("cameras.err.schedule", "Lịch ghi hình không hợp lệ", "The schedule is not valid"),
    ("cameras.err.quota", "Hạn mức không hợp lệ", "The quota is not valid"),
    ("cameras.err.days", "Số ngày lưu phải từ 1 đến 3650, tối thiểu không lớn hơn tối đa.", "Retention days must be 1–3650, the minimum not above the maximum."),
    ("cameras.err.save", "Không lưu được", "Could not save"),
    ("storage.disk", "Ổ đĩa", "Disk"),
    ("storage.disk_total", "Dung lượng", "Size"),
    ("storage.disk_free", "Còn trống", "Free"),
    ("storage.vigil_used", "Video đã ghi", "Recorded video"),
    ("storage.disk_unknown", "Không đọc được thông tin ổ đĩa.", "Cannot read the disk's figures."),
    ("storage.forecast_title", "Số ngày lưu dự kiến so với mức tối thiểu", "Forecast days against the floor"),
    ("storage.chart", "Biểu đồ số ngày lưu dự kiến của từng camera", "Chart of each camera's forecast days"),
    ("storage.forecast", "Dự kiến (ngày)", "Forecast (days)"),
    ("storage.floor", "Tối thiểu", "Floor"),
    ("storage.ceiling", "Tối đa", "Ceiling"),
    ("storage.bitrate", "Tốc độ bit", "Bitrate"),
    ("storage.used", "Đã dùng", "Used"),
    ("storage.per_day", "Mỗi ngày", "Per day"),
    ("storage.no_quota", "không giới hạn riêng", "no quota"),
    ("storage.advice", "Khuyến nghị: dung lượng không đủ cho số ngày yêu cầu", "Advice: storage falls short of the required days"),
    ("storage.advice_details", "Chi tiết (tiếng Anh)", "Details"),
    ("advice.fleet_not_recording", "Không camera nào đang ghi.", "No camera records."),
    ("advice.fleet_meets", "Toàn hệ thống đủ số ngày yêu cầu.", "The whole system keeps the required days."),
    ("advice.fleet_short", "Toàn hệ thống không đủ số ngày yêu cầu.", "The system falls short of the required days."),
    ("advice.fleet_add_disk", "Cần thêm ổ đĩa.", "Add disk space."),
    ("advice.fleet_h265", "Chuyển camera sang H.265 để tiết kiệm dung lượng.", "Switch cameras to H.265 to save space."),
    ("advice.fleet_sub_stream", "Cân nhắc ghi luồng phụ cho một số camera.", "Consider recording the sub-stream for some cameras."),
    ("advice.fleet_schedule", "Giảm giờ ghi bằng lịch ghi hình.", "Record fewer hours with schedules."),
    ("advice.bitrates_nominal", "Tốc độ bit là giá trị danh định, chưa đo thực tế.", "Bitrates are nominal, not measured."),
    ("advice.camera_schedule", "Camera này có thể dùng lịch ghi hình.", "This camera could use a schedule."),
    ("advice.camera_over_budget", "Camera vượt tốc độ bit cho phép.", "The camera exceeds its bitrate budget."),
    ("health.recorder_not_running", "Bộ ghi hình không chạy (không có trạng thái mới).", "The recorder is not running (no fresh status)."),
    ("health.alarms", "Cảnh báo", "Alarms"),
    ("health.no_alarms", "Không có cảnh báo.", "No alarms."),
    ("health.since", "từ", "since"),
    ("health.ack", "Đã biết", "Acknowledge"),
    ("health.state", "Trạng thái", "State"),
    ("health.online", "Trực tuyến", "Online"),
    ("health.offline", "Mất kết nối", "Offline"),
    ("health.last_frame", "Khung hình cuối", "Last frame"),
    ("health.recording", "Ghi hình", "Recording"),
    ("health.recording_yes", "Đang ghi", "Recording"),
    ("health.recording_no", "Không ghi", "Not recording"),
    ("health.schedule_off", "Ngoài lịch ghi", "Off by schedule"),
    ("health.reconnects", "Kết nối lại", "Reconnects"),
    ("health.disk.ok", "Bình thường", "Normal"),
    ("health.disk.low", "Sắp đầy", "Nearly full"),
    ("health.disk.unknown", "Không rõ", "Unknown"),
    ("state.streaming", "đang nhận hình", "streaming"),
    ("state.connecting", "đang kết nối", "connecting"),
    ("state.backoff", "chờ kết nối lại", "waiting to reconnect"),
    ("state.stopped", "đã dừng", "stopped"),
    ("state.unknown", "chưa chạy", "not running"),
    ("state.disabled", "đã tắt", "disabled"),
    ("alarm.offline", "Camera mất kết nối", "Camera offline"),
    ("alarm.forecast", "Dung lượng không đủ số ngày lưu tối thiểu", "Storage below the retention floor"),
    ("alarm.disk_full", "Ổ đĩa đầy", "Disk full"),
    ("alarm.write_failing", "Lỗi ghi hình", "Recording fails"),
    ("alarm.disk_low", "Ổ đĩa sắp đầy", "Disk nearly full"),
    // live wall (live.rs, live.js)
    ("live.layout", "Bố cục", "Layout"),
    ("live.focus", "Phóng to camera này", "Focus this camera"),
    ("live.unfocus", "Quay lại lưới", "Back to the grid"),
    ("live.no_cameras", "Chưa có camera nào để xem.", "No cameras to watch yet."),
    ("live.status.connecting", "Đang kết nối…", "Connecting…"),
    ("live.status.waiting", "Chờ khung hình khóa…", "Waiting for a key frame…"),
    ("live.status.playing", "Trực tiếp", "Live"),
    ("live.status.online", "Trực tuyến", "Online"),
    ("live.status.offline", "Mất tín hiệu", "Offline"),
    ("live.status.reconnecting", "Mất kết nối, đang thử lại…", "Disconnected, retrying…"),
    (
        "live.status.h265",
        "H.265: trình duyệt không phát được, hãy dùng luồng phụ H.264",
        "H.265: use a H.264 sub-stream",
    ),
    (
        "live.status.mse",
        "Trình duyệt không hỗ trợ phát video trực tiếp (MSE)",
        "This browser cannot play live video (MSE)",
    ),
    ("live.status.error", "Lỗi phát video", "Playback error"),
    // playback (playback.rs, playback.js)
    ("playback.camera", "Camera", "Camera"),
    ("playback.day", "Ngày", "Day"),
    ("playback.show", "Xem", "Show"),
    ("playback.add_camera", "Thêm camera (tối đa 4)", "Add a camera (up to 4)"),
    ("playback.none", "Không có", "None"),
    ("playback.recorded", "Có ghi hình", "Recorded"),
    ("playback.hole", "Không có ghi hình", "Not recorded"),
    ("playback.play", "Phát", "Play"),
    ("playback.pause", "Tạm dừng", "Pause"),
    ("playback.step", "Tiến một khung hình", "Step one frame"),
    ("playback.speed", "Tốc độ", "Speed"),
    ("playback.download", "Tải đoạn MP4", "Download MP4"),
    ("playback.loading", "Đang tải…", "Loading…"),
    ("playback.no_footage", "Không có ghi hình tại thời điểm này", "Nothing recorded at this time"),
    ("playback.forbidden", "Bạn không có quyền xem lại thời điểm này", "You may not play back this time"),
    ("playback.limited", "Bạn chỉ được xem lại 30 phút gần nhất", "You may play back only the last 30 minutes"),
    ("playback.error", "Lỗi phát lại", "Playback error"),
    ("playback.h265", "H.265: trình duyệt không phát được, hãy tải MP4", "H.265: the browser cannot play it; download the MP4"),
    ("playback.pick_camera", "Chọn camera và ngày để xem lại.", "Choose a camera and a day to play back."),
    ("playback.bad_day", "Ngày không hợp lệ (YYYY-MM-DD)", "Invalid day (YYYY-MM-DD)"),
    ("playback.time", "Thời điểm", "Time"),
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

/// Every string of the table in `lang`, as a JSON object (key → text): the bundle the
/// ES modules read (`/api/i18n`, and the `script#i18n` block of every page).
pub fn bundle(lang: Lang) -> serde_json::Value {
    serde_json::Value::Object(
        TABLE
            .iter()
            .map(|(k, vi, en)| {
                let v = match lang {
                    Lang::Vi => vi,
                    Lang::En => en,
                };
                (k.to_string(), serde_json::Value::String(v.to_string()))
            })
            .collect(),
    )
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_translated() {
        let mut seen = std::collections::HashSet::new();
        for (k, vi, en) in TABLE {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!vi.trim().is_empty() && !en.trim().is_empty(), "{k}");
        }
        assert_eq!(t(Lang::Vi, "login.title"), "Đăng nhập");
        assert_eq!(t(Lang::En, "login.title"), "Log in");
        assert_eq!(bundle(Lang::En)["nav.live"], "Live");
    }
}
