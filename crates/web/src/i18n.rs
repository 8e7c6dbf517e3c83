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
    ("playback.limited", "Bạn chỉ được xem lại trong khoảng được phép: thời gian gần đây hoặc theo yêu cầu đã được duyệt", "You may play back only the allowed times: the recent past or what an approved request granted"),
    ("playback.error", "Lỗi phát lại", "Playback error"),
    ("playback.h265", "H.265: trình duyệt không phát được, hãy tải MP4", "H.265: the browser cannot play it; download the MP4"),
    ("playback.pick_camera", "Chọn camera và ngày để xem lại.", "Choose a camera and a day to play back."),
    ("playback.bad_day", "Ngày không hợp lệ (YYYY-MM-DD)", "Invalid day (YYYY-MM-DD)"),
    ("playback.time", "Thời điểm", "Time"),
    // the audit page (audit_page.rs)
    ("nav.audit", "Nhật ký", "Audit"),
    ("audit.title", "Nhật ký truy cập và thao tác", "Audit trail"),
    (
        "audit.hint",
        "Mọi đăng nhập, lần xem video, yêu cầu, phê duyệt, trích xuất và thay đổi cấu hình đều được ghi lại, nối chuỗi băm và ký bằng khóa của đầu ghi; không ai sửa được.",
        "Every login, video view, request, approval, export and configuration change is recorded, hash-chained and sealed with the recorder's key; nobody can edit it.",
    ),
    ("audit.actor", "Người thực hiện", "Actor"),
    ("audit.action", "Thao tác", "Action"),
    ("audit.target", "Đối tượng (vd. camera:1)", "Target (e.g. camera:1)"),
    ("audit.from", "Từ ngày", "From"),
    ("audit.to", "Đến ngày", "To"),
    ("audit.any", "Tất cả", "Any"),
    ("audit.filter", "Lọc", "Filter"),
    ("audit.csv", "Tải CSV", "Download CSV"),
    ("audit.time", "Thời gian", "Time"),
    ("audit.detail", "Chi tiết", "Detail"),
    ("audit.client", "Địa chỉ máy", "Client address"),
    ("audit.system", "(hệ thống)", "(system)"),
    ("audit.none", "Không có sự kiện nào khớp bộ lọc.", "No event matches the filter."),
    (
        "audit.truncated",
        "Chỉ hiển thị các sự kiện mới nhất; tải CSV để có đầy đủ. Số dòng hiển thị:",
        "Only the newest events are shown; download the CSV for all of them. Rows shown:",
    ),
    ("audit.bad_day", "Ngày không hợp lệ (dùng YYYY-MM-DD).", "Not a valid day (use YYYY-MM-DD)."),
    // requests and administration (requests.rs, admin.rs) — RIGHTS-KEYS
    ("nav.requests", "Yêu cầu trích xuất", "Requests"),
    ("nav.admin", "Người dùng & quyền", "Users & rights"),
    ("req.title", "Yêu cầu trích xuất hình ảnh", "Footage requests"),
    ("req.request", "Yêu cầu", "Request"),
    ("req.new", "Lập yêu cầu mới", "New request"),
    ("req.new_hint", "Chỉ được trích xuất để phòng chống tội phạm hoặc xử lý vi phạm, khi có văn bản đề nghị được Ban giám hiệu phê duyệt. Đính kèm bản quét văn bản đề nghị.", "Footage may be extracted only for crime prevention or handling violations, on a written request approved by the leadership. Attach the scanned written request."),
    ("req.inbox", "Hộp duyệt yêu cầu", "Approval inbox"),
    ("req.mine", "Yêu cầu của tôi", "My requests"),
    ("req.granted", "Được cấp quyền cho tôi", "Granted to me"),
    ("req.decided", "Đã quyết định", "Decided"),
    ("req.none", "Không có yêu cầu nào.", "No requests."),
    ("req.requester", "Người đề nghị", "Requested by"),
    ("req.purpose", "Mục đích", "Purpose"),
    ("req.purpose_other", "Mục đích khác (ghi rõ)", "Other purpose (describe)"),
    ("req.purpose.crime_prevention", "Phòng chống tội phạm", "Crime prevention"),
    ("req.purpose.violation", "Xử lý vi phạm", "Handling a violation"),
    ("req.purpose.complaint", "Khiếu nại của người có hình ảnh được ghi", "Complaint by a recorded person"),
    ("req.purpose.police", "Đề nghị của cơ quan công an", "Police request"),
    ("req.purpose.other", "Khác", "Other"),
    ("req.cameras", "Camera", "Cameras"),
    ("req.window", "Khoảng thời gian", "Time window"),
    ("req.start", "Từ", "From"),
    ("req.end", "Đến", "To"),
    ("req.reason", "Lý do", "Reason"),
    ("req.want_hold", "Đề nghị giữ lại đoạn ghi hình (không bị xoá theo thời hạn lưu)", "Ask to hold the footage (kept past retention)"),
    ("req.document", "Văn bản đề nghị (bản quét)", "Written request (scan)"),
    ("req.submit", "Gửi yêu cầu", "Submit the request"),
    ("req.status", "Trạng thái", "Status"),
    ("req.status.pending", "Chờ duyệt", "Pending"),
    ("req.status.approved", "Đã duyệt", "Approved"),
    ("req.status.rejected", "Từ chối", "Rejected"),
    ("req.filed_at", "Ngày lập", "Filed"),
    ("req.decider", "Người quyết định", "Decided by"),
    ("req.comment", "Ý kiến", "Comment"),
    ("req.expires", "Hiệu lực đến", "Valid until"),
    ("req.hold", "Giữ lại", "Hold"),
    ("req.hold_active", "Đang giữ", "Active"),
    ("req.hold_released", "Đã bỏ giữ", "Released"),
    ("req.own_pending", "Yêu cầu này do bạn lập: một người khác trong Ban giám hiệu sẽ duyệt.", "You filed this request: someone else in the leadership decides it."),
    ("req.decide", "Phê duyệt", "Decision"),
    ("req.grantees", "Người được cấp quyền", "People granted"),
    ("req.person", "Người", "Person"),
    ("req.can_view", "Xem", "View"),
    ("req.can_export", "Trích xuất", "Export"),
    ("req.place_hold", "Giữ lại đoạn ghi hình cho đến khi bỏ giữ", "Hold the footage until released"),
    ("req.approve", "Phê duyệt", "Approve"),
    ("req.reject", "Từ chối", "Reject"),
    ("req.grants", "Quyền đã cấp", "Grants"),
    ("req.release_hold", "Bỏ giữ", "Release the hold"),
    ("req.export", "Trích xuất", "Export"),
    ("req.exports", "Gói chứng cứ", "Evidence packages"),
    ("req.package", "Gói chứng cứ", "Evidence package"),
    ("req.download_all", "Tải cả gói", "Download the whole package"),
    ("req.package_name", "Tên gói", "Package"),
    ("req.exported_at", "Thời điểm trích xuất (UTC)", "Exported at (UTC)"),
    ("req.covered", "Thời gian có trong tệp (UTC)", "Time covered (UTC)"),
    ("req.frames", "Số khung hình", "Frames"),
    ("req.holes", "Khoảng trống", "Holes"),
    ("req.no_footage", "Không có đoạn ghi nào trong khoảng này", "Nothing recorded in this window"),
    ("req.how_to_verify", "Cách kiểm tra gói", "How to verify the package"),
    ("req.files", "Các tệp", "Files"),
    ("req.package_hint", "Mỗi lần tải về được ghi vào sổ giao nhận của gói và nhật ký kiểm tra.", "Every download is written to the package's custody log and the audit trail."),
    ("req.err.self_approval", "Không ai được tự duyệt yêu cầu của chính mình.", "Nobody may decide their own request."),
    ("req.err.not_pending", "Yêu cầu đã được quyết định.", "The request was already decided."),
    ("req.err.not_approved", "Yêu cầu chưa được duyệt.", "The request is not approved."),
    ("req.err.invalid", "Thông tin chưa hợp lệ", "Invalid input"),
    ("req.err.upload", "Không đọc được biểu mẫu gửi lên.", "The form could not be read."),
    ("req.err.too_large", "Tệp quá lớn (tối đa 20 MB).", "The file is too large (at most 20 MB)."),
    ("req.err.doc_type", "Văn bản đề nghị phải là tệp PDF, JPEG hoặc PNG.", "The written request must be a PDF, JPEG or PNG file."),
    ("req.err.document", "Hãy đính kèm bản quét văn bản đề nghị.", "Attach the scanned written request."),
    ("req.err.purpose", "Hãy chọn mục đích.", "Choose a purpose."),
    ("req.err.window", "Khoảng thời gian không hợp lệ (giờ kết thúc phải sau giờ bắt đầu).", "Invalid time window (the end must be after the start)."),
    ("req.err.cameras", "Hãy chọn ít nhất một camera.", "Choose at least one camera."),
    ("req.err.expiry", "Hãy nhập thời hạn hiệu lực.", "Give an expiry."),
    ("req.err.export", "Không trích xuất được", "The export failed"),
    (
        "req.err.still_recording",
        "Đầu ghi vẫn đang ghi đoạn cuối của khoảng thời gian này; gói chứng cứ chỉ lấy các đoạn đã khép lại và đã băm. Thử lại sau khoảng một phút. Đoạn đang ghi bắt đầu lúc",
        "The recorder is still writing the end of this window; a package takes only closed, hashed segments. Try again in about a minute. The open segment began at",
    ),
    ("admin.users", "Người dùng", "Users"),
    ("admin.roles", "Vai trò và quyền", "Roles and rights"),
    ("admin.zone", "Khu vực / bộ phận", "Zone / department"),
    ("admin.save", "Lưu", "Save"),
    ("admin.enable", "Mở khoá", "Enable"),
    ("admin.disable", "Khoá tài khoản", "Disable"),
    ("admin.add_user", "Thêm người dùng", "Add a user"),
    ("admin.add_role", "Thêm vai trò", "Add a role"),
    ("admin.delete_role", "Xoá vai trò", "Delete the role"),
    ("admin.role_name", "Tên vai trò", "Role name"),
    ("admin.role_desc", "Mô tả", "Description"),
    ("admin.members", "người", "people"),
    ("admin.window_min", "Xem lại trong (phút)", "Look back (minutes)"),
    ("admin.own_account", "Không ai được tự thay đổi quyền của mình.", "Nobody may change their own rights."),
    ("admin.own_role", "Bạn đang giữ vai trò này nên không được sửa nó.", "You hold this role, so you may not edit it."),
    ("admin.scope_hint", "Phạm vi: all (mọi camera), own_zone (khu vực của người dùng), zone:<tên khu vực>, camera:<số>; nhiều phạm vi cách nhau bằng dấu phẩy. Không vai trò nào có quyền xoá ghi hình.", "Scope: all (every camera), own_zone (the user's zone), zone:<zone name>, camera:<id>; several separated by commas. No role may delete footage."),
    ("admin.err.self", "Không ai được tự cấp hoặc thay đổi quyền của mình.", "Nobody may grant or change their own rights."),
    ("admin.err.last_admin", "Không được: sẽ không còn ai quản lý người dùng.", "Refused: nobody would be left to manage users."),
    ("admin.err.not_assignable", "Quyền xem lại mọi thời điểm chỉ được cấp qua yêu cầu đã duyệt.", "Playback at any time is given only through an approved request."),
    ("admin.err.role_in_use", "Vai trò đang được giao cho người dùng.", "The role is held by users."),
    ("admin.err.exists", "Tên đã tồn tại.", "The name exists already."),
    ("admin.err.invalid", "Thông tin chưa hợp lệ", "Invalid input"),
    ("role.leadership", "Ban giám hiệu", "Leadership"),
    ("role.leadership.desc", "Xem trực tiếp, xem lại gần đây, duyệt yêu cầu, giữ lại ghi hình, đọc nhật ký và báo cáo.", "Live, recent playback, approve requests, holds, audit and reports."),
    ("role.guard", "Tổ bảo vệ", "Guards"),
    ("role.guard.desc", "Xem trực tiếp, xem lại 30 phút gần nhất, lập yêu cầu.", "Live, the last 30 minutes of playback, raise requests."),
    ("role.it", "Nhân viên CNTT", "IT staff"),
    ("role.it.desc", "Camera, hệ thống, người dùng, trích xuất theo yêu cầu đã duyệt; không được duyệt.", "Cameras, system, users, perform approved exports; no approval."),
    ("role.accountant", "Kế toán", "Accountant"),
    ("role.accountant.desc", "Chỉ mảng ngân sách, không xem hình ảnh.", "Budget area only, no video."),
    ("role.department_head", "Trưởng bộ phận", "Department head"),
    ("role.department_head.desc", "Xem trực tiếp camera thuộc khu vực của mình.", "Live view of their own zone."),
    ("role.auditor", "Kiểm tra viên", "Auditor"),
    ("role.auditor.desc", "Chỉ đọc nhật ký kiểm tra.", "Read the audit trail only."),
    ("role.viewer", "Người xem", "Viewer"),
    ("role.viewer.desc", "Chỉ xem trực tiếp.", "Live view only."),
    ("right.live_view", "Xem trực tiếp", "Live view"),
    ("right.playback_recent", "Xem lại gần đây", "Recent playback"),
    ("right.playback_any", "Xem lại mọi thời điểm (qua yêu cầu)", "Playback at any time (through a request)"),
    ("right.export_request", "Lập yêu cầu trích xuất", "Request exports"),
    ("right.export_approve", "Duyệt yêu cầu", "Approve requests"),
    ("right.export_perform", "Thực hiện trích xuất", "Perform exports"),
    ("right.hold", "Giữ lại ghi hình", "Holds"),
    ("right.camera_configure", "Cấu hình camera", "Configure cameras"),
    ("right.system_configure", "Cấu hình hệ thống", "Configure the system"),
    ("right.users", "Quản lý người dùng", "Manage users"),
    ("right.audit_read", "Đọc nhật ký kiểm tra", "Read the audit trail"),
    ("right.alarms", "Tình trạng và cảnh báo", "Health and alarms"),
    ("right.roster", "Lịch trực", "Duty roster"),
    ("right.incidents", "Sự cố", "Incidents"),
    ("right.maintenance", "Bảo trì", "Maintenance"),
    ("right.budget", "Ngân sách", "Budget"),
    ("right.complaints", "Khiếu nại", "Complaints"),
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
