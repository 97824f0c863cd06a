"""What the admin screen says to field IT staff, in their language (no Qt).

The sync client, the connection test, enrolment and the store report failures as short technical
strings (``network: ConnectionError: …``, ``token refused: device_revoked: …``, ``database or disk
is full``) and as result dicts. This module turns each of them into a :class:`Message`: a
headline that says what happened, guidance that says what to do, and the technical details
(error code, HTTP status, exception class, message) for the "Chi tiết" box. Never a traceback.

It also formats what the screen shows beside them: times in the province's zone as
``dd/mm/yyyy HH:MM``, the kiosk's human label instead of its UUID, and the reasons answers were
kept aside. The screen asks; this module answers (contract 17).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Iterator

from hailong_core.timeutil import parse_rfc3339

LANGS = ("vi", "en")
SHORT_ID = 8  # the server's "Máy kiosk" page shows the same 8 characters of the device id

# --- the catalogue -------------------------------------------------------------------------------
# kind -> (headline, guidance). Both languages hold the same kinds and placeholders (a test checks).

VI: dict[str, tuple[str, str]] = {
    # The address typed.
    "address_invalid": ("Địa chỉ máy chủ chưa đúng dạng.",
                        "Nhập đầy đủ, bắt đầu bằng https:// (hoặc http://), ví dụ https://hailong.bacninh.gov.vn:8443"),
    "address_path": ("Máy chủ không có trang cần tìm ở địa chỉ này.",
                     "Chỉ nhập phần đầu của địa chỉ máy chủ, ví dụ https://hailong.bacninh.gov.vn:8443 "
                     "(không thêm /admin hay đường dẫn khác), và kiểm tra đúng là máy chủ Hài Lòng."),
    # The network.
    "connect": ("Không kết nối được máy chủ.", "Kiểm tra cáp mạng hoặc Wi-Fi, và địa chỉ máy chủ."),
    "refused": ("Không kết nối được máy chủ.",
                "Máy chủ không trả lời ở địa chỉ và cổng này. Kiểm tra địa chỉ máy chủ, cả số cổng (ví dụ :8443); "
                "nếu đúng, báo quản trị máy chủ: có thể phần mềm máy chủ đang tắt."),
    "dns": ("Không tìm thấy máy chủ theo tên này.",
            "Kiểm tra chính tả địa chỉ máy chủ, rồi kiểm tra cáp mạng hoặc Wi-Fi (cần mạng để tra tên máy chủ)."),
    "no_network": ("Thiết bị chưa có kết nối mạng.", "Kiểm tra cáp mạng hoặc Wi-Fi, rồi thử lại."),
    "connect_timeout": ("Không kết nối được máy chủ (quá thời gian chờ).",
                        "Kiểm tra cáp mạng hoặc Wi-Fi, và địa chỉ máy chủ. Tường lửa của mạng cũng có thể chặn cổng này."),
    "read_timeout": ("Máy chủ trả lời quá chậm.",
                     "Mạng chậm hoặc máy chủ đang quá tải. Thử lại sau ít phút; nếu kéo dài, báo quản trị máy chủ."),
    "connection_reset": ("Kết nối với máy chủ bị ngắt giữa chừng.",
                         "Nếu máy chủ dùng https://, kiểm tra địa chỉ không ghi nhầm http://. Nếu đúng, thử lại sau ít phút "
                         "và kiểm tra mạng."),
    "proxy": ("Không đi qua được máy chủ proxy của mạng.",
              "Kiểm tra cấu hình proxy của mạng (hoặc dùng mạng không cần proxy), rồi thử lại."),
    # TLS (https).
    "tls_untrusted": ("Thiết bị không tin chứng chỉ bảo mật của máy chủ.",
                      "Chứng chỉ HTTPS của máy chủ là tự ký hoặc do nơi lạ cấp. Báo quản trị máy chủ dùng chứng chỉ hợp lệ "
                      "(hoặc cài chứng chỉ gốc của tỉnh lên thiết bị). Không tắt việc kiểm tra chứng chỉ."),
    "tls_expired": ("Chứng chỉ bảo mật của máy chủ đã hết hạn hoặc chưa có hiệu lực.",
                    "Kiểm tra ngày giờ của thiết bị trước: đồng hồ sai cũng gây lỗi này. Nếu ngày giờ đúng, báo quản trị "
                    "máy chủ gia hạn chứng chỉ."),
    "tls_hostname": ("Chứng chỉ bảo mật không khớp với địa chỉ máy chủ.",
                     "Nhập đúng tên miền ghi trên chứng chỉ (ví dụ https://hailong.bacninh.gov.vn), không dùng địa chỉ IP."),
    "tls_client_cert": ("Máy chủ không nhận chứng chỉ của thiết bị.",
                        "Máy chủ (hoặc tường lửa trước nó) đòi chứng chỉ riêng cho thiết bị hoặc một cách mã hoá khác. "
                        "Báo quản trị máy chủ, kèm phần Chi tiết."),
    "tls_not_https": ("Cổng này của máy chủ không dùng HTTPS.",
                      "Kiểm tra số cổng; nếu máy chủ chỉ dùng http://, sửa địa chỉ cho đúng."),
    "tls_other": ("Lỗi kết nối bảo mật (HTTPS) với máy chủ.",
                  "Kiểm tra ngày giờ của thiết bị và địa chỉ máy chủ; nếu vẫn lỗi, báo quản trị máy chủ, kèm phần Chi tiết."),
    # Something answered, but not as our server does.
    "captive_portal": ("Mạng chuyển thiết bị sang một trang khác.",
                       "Có thể mạng Wi-Fi cần đăng nhập qua trang chào, hoặc địa chỉ máy chủ đã đổi. Dùng mạng không cần "
                       "đăng nhập, và kiểm tra địa chỉ (http:// hay https://)."),
    "not_our_server": ("Địa chỉ này không phải máy chủ Hài Lòng.",
                       "Kiểm tra địa chỉ máy chủ và số cổng. Nếu mạng Wi-Fi cần đăng nhập qua trang chào, hãy dùng mạng khác."),
    "old_server": ("Máy chủ và ứng dụng trên thiết bị khác phiên bản.",
                   "Báo quản trị máy chủ cập nhật máy chủ (máy chủ cần được cập nhật trước các thiết bị)."),
    "request_refused": ("Máy chủ từ chối dữ liệu thiết bị gửi.",
                        "Thường do máy chủ và ứng dụng khác phiên bản, hoặc do giới hạn của máy chủ. Báo quản trị máy chủ, "
                        "kèm phần Chi tiết."),
    # The server answered with an error.
    "server_error": ("Máy chủ đang gặp lỗi.",
                     "Không cần làm gì trên thiết bị. Nếu lỗi kéo dài, báo quản trị máy chủ (nhật ký máy chủ có chi tiết)."),
    "server_unavailable": ("Máy chủ tạm thời không hoạt động.",
                           "Máy chủ hoặc cơ sở dữ liệu của nó đang bảo trì hay quá tải; thiết bị tự thử lại. Nếu kéo dài "
                           "hơn một giờ, báo quản trị máy chủ."),
    "server_busy": ("Máy chủ đang bận và yêu cầu chờ.", "Thiết bị tự thử lại sau; không cần làm gì."),
    "unknown_unit": ("Máy chủ không có đơn vị của thiết bị này.",
                     "Đơn vị có thể đã bị xoá hoặc đổi mã. Báo quản trị máy chủ, rồi đăng ký lại thiết bị bằng mã mới."),
    # The device's token.
    "token_revoked": ("Thiết bị này đã bị thu hồi trên máy chủ.",
                      "Xin mã đăng ký mới ở trang «Mã đăng ký» của máy chủ, rồi chạm «Đăng ký lại». Phiếu chưa gửi vẫn "
                      "được giữ và sẽ gửi sau khi đăng ký lại."),
    "token_unknown": ("Máy chủ không nhận ra thiết bị này.",
                      "Máy chủ có thể đã được cài lại, hoặc địa chỉ trỏ tới máy chủ khác. Kiểm tra địa chỉ; nếu đúng, xin mã "
                      "đăng ký mới và đăng ký lại. Phiếu chưa gửi vẫn được giữ."),
    # Enrolment.
    "code_invalid": ("Mã đăng ký không đúng hoặc đã hết hạn.",
                     "Xin mã mới ở trang «Mã đăng ký» của máy chủ và nhập lại (chữ hoa hay chữ thường đều được)."),
    "code_used": ("Mã đăng ký này đã được dùng.",
                  "Mỗi mã chỉ dùng được một lần. Xin mã mới ở trang «Mã đăng ký» của máy chủ."),
    "code_expired": ("Mã đăng ký đã hết hạn.",
                     "Xin mã mới ở trang «Mã đăng ký» của máy chủ và dùng trong thời hạn của mã."),
    "code_missing": ("Chưa nhập mã đăng ký.",
                     "Nhập mã đăng ký (xin ở trang «Mã đăng ký» của máy chủ), rồi chạm «Đăng ký»."),
    "not_enrolled": ("Thiết bị chưa đăng ký với máy chủ.",
                     "Nhập địa chỉ máy chủ và mã đăng ký ở phần dưới, rồi chạm «Đăng ký». Phiếu vẫn được lưu trên thiết "
                     "bị trong lúc chờ."),
    # The kiosk's own database.
    "disk_full": ("Bộ nhớ của thiết bị đã đầy.",
                  "Phiếu mới không lưu được. Giải phóng dung lượng (xoá tệp không cần trên thiết bị) hoặc báo cán bộ CNTT; "
                  "thiết bị lưu lại được ngay khi có chỗ trống."),
    "db_locked": ("Tệp dữ liệu của thiết bị đang bị khoá.",
                  "Một chương trình khác đang dùng tệp dữ liệu (ví dụ lệnh hailong-kiosk chạy cùng lúc). Đóng chương trình "
                  "đó, hoặc khởi động lại thiết bị."),
    "db_readonly": ("Thiết bị không ghi được dữ liệu (chỉ đọc).",
                    "Ổ đĩa hoặc thư mục dữ liệu đang ở chế độ chỉ đọc. Báo cán bộ CNTT kiểm tra ổ đĩa và quyền ghi, rồi "
                    "khởi động lại thiết bị."),
    "db_io": ("Lỗi đọc/ghi ổ đĩa của thiết bị.",
              "Ổ đĩa có thể hỏng hoặc bị rút ra. Khởi động lại thiết bị; nếu còn lỗi, báo cán bộ CNTT (đừng xoá tệp dữ liệu)."),
    "db_corrupt": ("Tệp dữ liệu của thiết bị bị hỏng.",
                   "Không xoá tệp. Báo cán bộ CNTT ngay: phiếu chưa gửi có thể được cứu bằng lệnh "
                   "hailong-kiosk export-pending."),
    "db_cantopen": ("Không mở được tệp dữ liệu của thiết bị.",
                    "Kiểm tra ổ đĩa còn gắn và thư mục dữ liệu còn đó; khởi động lại thiết bị, hoặc báo cán bộ CNTT."),
    "storage_other": ("Lỗi lưu dữ liệu trên thiết bị.",
                      "Khởi động lại thiết bị; nếu còn lỗi, báo cán bộ CNTT, kèm phần Chi tiết."),
    # Anything else.
    "unexpected": ("Có lỗi không mong đợi trong ứng dụng.",
                   "Thiết bị vẫn giữ phiếu và tự thử lại. Nếu lỗi lặp lại, chụp ảnh phần Chi tiết gửi cán bộ CNTT của tỉnh."),
    # Outcomes that went well, and sentences that complete the others.
    "test_ok_device": ("Kết nối tốt: máy chủ nhận thiết bị này.", "Máy chủ trả lời sau {ms} ms."),
    "test_ok_server": ("Kết nối tốt: đây là máy chủ Hài Lòng.",
                       "Máy chủ trả lời sau {ms} ms. Có thể đăng ký thiết bị với địa chỉ này."),
    "enrolled": ("Đã đăng ký thiết bị: {label}.", "Thiết bị sẽ gửi phiếu tới {server}."),
    "enrolled_no_config": ("", "Chưa tải được cấu hình từ máy chủ; thiết bị sẽ tự tải lại."),
    "sync_sent": ("Đã gửi {sent} phiếu; còn {pending} phiếu chờ gửi.", ""),
    "sync_nothing": ("Đồng bộ xong: không có phiếu nào chờ gửi.", ""),
    "sync_none_sent": ("Chưa gửi được phiếu nào; còn {pending} phiếu chờ gửi.",
                       "Thiết bị sẽ tự thử lại; xem lỗi gần nhất ở trên nếu số phiếu chờ không giảm."),
    "sync_kept": ("", "{kept} phiếu bị máy chủ từ chối và được để riêng trên thiết bị (xem danh sách bên dưới)."),
    "sync_config": ("", "Đã nhận cấu hình mới từ máy chủ."),
    "sync_counts": ("", "Đã gửi {sent} phiếu; còn {pending} phiếu chờ gửi."),
    "sync_waiting": ("", "Còn {pending} phiếu chờ gửi."),
    "kept_safe": ("", "Phiếu vẫn được giữ an toàn trên thiết bị và sẽ tự gửi khi kết nối được."),
    "resolved": ("", "Đồng bộ đã thành công sau lỗi này; không cần làm gì."),
    "working": ("Đang thực hiện…", ""),
    "done": ("Xong.", ""),
}

EN: dict[str, tuple[str, str]] = {
    "address_invalid": ("The server address is not in the right form.",
                        "Type it in full, starting with https:// (or http://), e.g. https://hailong.bacninh.gov.vn:8443"),
    "address_path": ("The server has no such page at this address.",
                     "Type only the start of the server address, e.g. https://hailong.bacninh.gov.vn:8443 (no /admin or "
                     "other path), and check that it is the Hài Lòng server."),
    "connect": ("Cannot reach the server.", "Check the network cable or Wi-Fi, and the server address."),
    "refused": ("Cannot reach the server.",
                "Nothing answers at this address and port. Check the server address, including the port (e.g. :8443); "
                "if it is right, tell the server's administrator: the server software may be stopped."),
    "dns": ("No server is known by this name.",
            "Check the spelling of the server address, then the network cable or Wi-Fi (names are looked up on the network)."),
    "no_network": ("The kiosk has no network connection.", "Check the network cable or Wi-Fi, then try again."),
    "connect_timeout": ("Cannot reach the server (timed out).",
                        "Check the network cable or Wi-Fi, and the server address. A firewall may also block this port."),
    "read_timeout": ("The server answers too slowly.",
                     "The network is slow or the server is overloaded. Try again in a few minutes; if it lasts, tell the "
                     "server's administrator."),
    "connection_reset": ("The connection to the server was cut off.",
                         "If the server uses https://, check that the address does not say http://. If it is right, try "
                         "again in a few minutes and check the network."),
    "proxy": ("Cannot get through the network's proxy.",
              "Check the network's proxy settings (or use a network without a proxy), then try again."),
    "tls_untrusted": ("The kiosk does not trust the server's security certificate.",
                      "The server's HTTPS certificate is self-signed or from an unknown issuer. Ask the server's administrator "
                      "for a valid certificate (or install the province's root certificate on the kiosk). Do not turn "
                      "certificate checks off."),
    "tls_expired": ("The server's security certificate has expired or is not valid yet.",
                    "Check the kiosk's date and time first: a wrong clock causes this too. If they are right, ask the "
                    "server's administrator to renew the certificate."),
    "tls_hostname": ("The security certificate does not match the server address.",
                     "Type the domain name on the certificate (e.g. https://hailong.bacninh.gov.vn), not an IP address."),
    "tls_client_cert": ("The server does not accept the kiosk's certificate.",
                        "The server (or a firewall in front of it) asks for a certificate of the kiosk or another kind of "
                        "encryption. Tell the server's administrator, with the details."),
    "tls_not_https": ("This port of the server does not use HTTPS.",
                      "Check the port; if the server only uses http://, correct the address."),
    "tls_other": ("Secure connection (HTTPS) to the server failed.",
                  "Check the kiosk's date and time and the server address; if it still fails, tell the server's "
                  "administrator, with the details."),
    "captive_portal": ("The network sends the kiosk to another page.",
                       "The Wi-Fi may need a sign-in page, or the server address changed. Use a network without sign-in, and "
                       "check the address (http:// or https://)."),
    "not_our_server": ("This address is not a Hài Lòng server.",
                       "Check the server address and port. If the Wi-Fi needs a sign-in page, use another network."),
    "old_server": ("The server and the kiosk app are different versions.",
                   "Ask the server's administrator to update the server (servers are updated before their kiosks)."),
    "request_refused": ("The server refuses what the kiosk sends.",
                        "Usually the server and the app are different versions, or a server limit. Tell the server's "
                        "administrator, with the details."),
    "server_error": ("The server has an error.",
                     "Nothing to do on the kiosk. If it lasts, tell the server's administrator (the server's log has the "
                     "details)."),
    "server_unavailable": ("The server is temporarily out of service.",
                           "The server or its database is in maintenance or overloaded; the kiosk retries by itself. If it "
                           "lasts more than an hour, tell the server's administrator."),
    "server_busy": ("The server is busy and asks to wait.", "The kiosk retries later by itself; nothing to do."),
    "unknown_unit": ("The server does not know this kiosk's unit.",
                     "The unit may have been removed or renumbered. Tell the server's administrator, then enrol the kiosk "
                     "again with a new code."),
    "token_revoked": ("This kiosk was revoked on the server.",
                      "Get a new code on the server's «Enrolment codes» page, then tap «Re-enrol». Unsent answers are kept "
                      "and go out after enrolment."),
    "token_unknown": ("The server does not recognise this kiosk.",
                      "The server may have been reinstalled, or the address points to another server. Check the address; if "
                      "it is right, get a new enrolment code and enrol again. Unsent answers are kept."),
    "code_invalid": ("The enrolment code is wrong or has expired.",
                     "Get a new code on the server's «Enrolment codes» page and type it again (upper or lower case both work)."),
    "code_used": ("This enrolment code was already used.",
                  "Each code works once. Get a new one on the server's «Enrolment codes» page."),
    "code_expired": ("The enrolment code has expired.",
                     "Get a new code on the server's «Enrolment codes» page and use it before it expires."),
    "code_missing": ("No enrolment code typed.",
                     "Type the enrolment code (from the server's «Enrolment codes» page), then tap «Enrol»."),
    "not_enrolled": ("The kiosk is not enrolled with a server.",
                     "Type the server address and an enrolment code below, then tap «Enrol». Answers are kept on the kiosk "
                     "meanwhile."),
    "disk_full": ("The kiosk's storage is full.",
                  "New answers cannot be stored. Free some space (delete unneeded files on the kiosk) or tell IT staff; the "
                  "kiosk stores again as soon as there is room."),
    "db_locked": ("The kiosk's data file is locked.",
                  "Another program is using the data file (e.g. a hailong-kiosk command running at the same time). Close it, "
                  "or restart the kiosk."),
    "db_readonly": ("The kiosk cannot write its data (read-only).",
                    "The disk or data folder is read-only. Ask IT staff to check the disk and write permissions, then restart "
                    "the kiosk."),
    "db_io": ("Disk read/write error on the kiosk.",
              "The disk may be failing or unplugged. Restart the kiosk; if it persists, tell IT staff (do not delete the data "
              "file)."),
    "db_corrupt": ("The kiosk's data file is damaged.",
                   "Do not delete it. Tell IT staff at once: unsent answers can be saved with hailong-kiosk export-pending."),
    "db_cantopen": ("The kiosk's data file cannot be opened.",
                    "Check that the disk is attached and the data folder exists; restart the kiosk, or tell IT staff."),
    "storage_other": ("Storing data on the kiosk failed.",
                      "Restart the kiosk; if it persists, tell IT staff, with the details."),
    "unexpected": ("Unexpected error in the app.",
                   "The kiosk keeps its answers and retries. If it repeats, photograph the details and send them to the "
                   "province's IT staff."),
    "test_ok_device": ("Connection good: the server accepts this kiosk.", "The server answered in {ms} ms."),
    "test_ok_server": ("Connection good: this is a Hài Lòng server.",
                       "The server answered in {ms} ms. The kiosk can be enrolled with this address."),
    "enrolled": ("Kiosk enrolled: {label}.", "It will send answers to {server}."),
    "enrolled_no_config": ("", "The config could not be fetched yet; the kiosk fetches it again by itself."),
    "sync_sent": ("Sent {sent} answers; {pending} still waiting.", ""),
    "sync_nothing": ("Sync done: no answers waiting.", ""),
    "sync_none_sent": ("No answers sent yet; {pending} still waiting.",
                       "The kiosk retries by itself; see the last error above if the number does not go down."),
    "sync_kept": ("", "{kept} answers were refused by the server and are kept aside on the kiosk (see the list below)."),
    "sync_config": ("", "New config received from the server."),
    "sync_counts": ("", "Sent {sent} answers; {pending} still waiting."),
    "sync_waiting": ("", "{pending} answers still waiting."),
    "kept_safe": ("", "Answers stay safe on the kiosk and go out by themselves once the server can be reached."),
    "resolved": ("", "A sync succeeded after this error; nothing to do."),
    "working": ("Working…", ""),
    "done": ("Done.", ""),
}

CATALOGUES = {"vi": VI, "en": EN}

# Words of the details box and of the other lines the screen shows.
WORDS = {
    "vi": {"code": "mã lỗi", "http": "HTTP", "exception": "loại lỗi", "message": "nội dung", "where": "máy chủ",
           "raw": "nguyên văn", "device": "mã thiết bị", "kiosk": "máy", "never": "chưa có", "none": "không có"},
    "en": {"code": "error code", "http": "HTTP", "exception": "exception", "message": "message", "where": "server",
           "raw": "raw", "device": "device id", "kiosk": "kiosk", "never": "never", "none": "none"},
}

# Why the server set an answer aside (the per-item codes of an upload), short, for the list.
KEPT_REASONS = {
    "vi": {
        "response_conflict": "trùng mã với một phiếu khác đã có trên máy chủ",
        "unknown_questionnaire": "máy chủ không có bộ câu hỏi này",
        "unknown_question": "câu hỏi không có trong bộ câu hỏi của máy chủ",
        "invalid_answer": "câu trả lời không khớp bộ câu hỏi của máy chủ",
        "unit_mismatch": "phiếu của đơn vị khác (thiết bị đã đổi đơn vị?)",
        "channel_mismatch": "phiếu ghi sai kênh",
        "unknown_officer": "cán bộ không có trong danh sách của máy chủ",
        "unit_out_of_scope": "phiếu của đơn vị ngoài phạm vi máy chủ trạm được phép chuyển lên",
        "unknown_field": "máy chủ cũ hơn ứng dụng: cần cập nhật máy chủ",
        "missing_field": "phiếu thiếu dữ liệu",
        "invalid_field": "phiếu có dữ liệu sai dạng",
        "invalid_item": "phiếu sai dạng",
        "body_too_large": "phiếu quá lớn so với giới hạn của máy chủ",
        "batch_too_large": "phiếu quá lớn so với giới hạn của máy chủ",
        "_other": "máy chủ từ chối phiếu này",
    },
    "en": {
        "response_conflict": "same id as another answer already on the server",
        "unknown_questionnaire": "the server does not have this questionnaire",
        "unknown_question": "a question the server's questionnaire does not have",
        "invalid_answer": "the answer does not fit the server's questionnaire",
        "unit_mismatch": "an answer of another unit (did the kiosk change unit?)",
        "channel_mismatch": "an answer with the wrong channel",
        "unknown_officer": "an officer not on the server's roster",
        "unit_out_of_scope": "an answer of a unit outside what the relay may forward",
        "unknown_field": "the server is older than the app: update the server",
        "missing_field": "the answer lacks data",
        "invalid_field": "the answer has malformed data",
        "invalid_item": "a malformed answer",
        "body_too_large": "the answer exceeds the server's size limit",
        "batch_too_large": "the answer exceeds the server's size limit",
        "_other": "the server refused this answer",
    },
}

# The server's error codes (sync_server/errors.py CATALOGUE; a test keeps this in step) -> kind.
# The kiosk never imports the server, so the codes it can meet are listed here.
CODE_KINDS = {
    "invalid_json": "request_refused",
    "invalid_gzip": "request_refused",
    "json_too_deep": "request_refused",
    "invalid_body": "request_refused",
    "unknown_field": "old_server",
    "missing_token": "token_unknown",
    "invalid_token": "token_unknown",
    "device_revoked": "token_revoked",
    "api_token_revoked": "token_revoked",
    "enroll_code_invalid": "code_invalid",
    "unknown_unit": "unknown_unit",
    "unknown_prompt": "old_server",
    "unknown_release": "old_server",
    "release_not_staged": "request_refused",
    "relay_token_required": "request_refused",
    "kiosk_token_required": "token_unknown",
    "campaign_started": "request_refused",
    "officer_results_forbidden": "request_refused",
    "not_found": "address_path",
    "method_not_allowed": "address_path",
    "unsupported_media_type": "request_refused",
    "body_too_large": "request_refused",
    "batch_too_large": "request_refused",
    "rate_limited": "server_busy",
    "internal_error": "server_error",
    "database_unavailable": "server_unavailable",
}
CODE_STATUS = {
    "invalid_json": 400, "invalid_gzip": 400, "json_too_deep": 400, "invalid_body": 422, "unknown_field": 422,
    "missing_token": 401, "invalid_token": 401, "device_revoked": 403, "api_token_revoked": 403,
    "enroll_code_invalid": 403, "unknown_unit": 404, "unknown_prompt": 404, "unknown_release": 404, "release_not_staged": 403,
    "officer_results_forbidden": 403, "not_found": 404, "method_not_allowed": 405,
    "relay_token_required": 403, "kiosk_token_required": 403, "campaign_started": 409,
    "unsupported_media_type": 415, "body_too_large": 413, "batch_too_large": 413, "rate_limited": 429,
    "internal_error": 500, "database_unavailable": 503,
}

# Kinds after which nothing is lost and the kiosk retries by itself: the sync message says so.
TEMPORARY = frozenset((
    "connect", "refused", "dns", "no_network", "connect_timeout", "read_timeout", "connection_reset", "proxy",
    "tls_untrusted", "tls_expired", "tls_hostname", "tls_client_cert", "tls_not_https", "tls_other",
    "captive_portal", "not_our_server", "address_path", "address_invalid", "server_error", "server_unavailable",
    "server_busy", "request_refused", "old_server", "unknown_unit",
))
STORAGE = frozenset(("disk_full", "db_locked", "db_readonly", "db_io", "db_corrupt", "db_cantopen", "storage_other"))


@dataclass(frozen=True)
class Message:
    """One thing to tell IT staff: ``headline`` (what happened), ``guidance`` (what to do), and
    ``details`` (the technical text for the "Chi tiết" box; empty when there is none).

    ``ok`` is True for outcomes that went well; ``kind`` names the catalogue entry. Unpacks as
    ``headline, guidance, details``.
    """

    headline: str
    guidance: str
    details: str = ""
    ok: bool = False
    kind: str = ""

    def __iter__(self) -> Iterator[str]:
        return iter((self.headline, self.guidance, self.details))


@dataclass(frozen=True)
class Facts:
    """What a technical error string says, pulled apart."""

    kind: str
    code: str | None = None
    status: int | None = None
    exception: str | None = None
    reason: str | None = None
    where: str | None = None
    raw: str = ""


def exception_chain(exc: BaseException) -> str:
    """``EnrollError ← SyncTemporaryError ← ConnectionError``: the class and its causes, for the details."""
    names, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names.append(current.__class__.__name__)
        current = current.__cause__ or current.__context__
    return " ← ".join(dict.fromkeys(names))


def _lang(lang: str) -> str:
    return lang if lang in CATALOGUES else "vi"


def text(kind: str, lang: str, **values) -> tuple[str, str]:
    """The catalogue's ``(headline, guidance)`` of ``kind`` in ``lang``, placeholders filled."""
    headline, guidance = CATALOGUES[_lang(lang)][kind]
    return headline.format(**values), guidance.format(**values)


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


# --- taking the technical strings apart -----------------------------------------------------------

_CODE_RE = re.compile(r"\b(" + "|".join(sorted(CODE_KINDS, key=len, reverse=True)) + r"|http_[0-9]{3})\b")
_STATUS_RES = (
    re.compile(r"\bserver ([0-9]{3}):"),
    re.compile(r"\banswered ([0-9]{3})\b"),
    re.compile(r"\bredirected \(([0-9]{3})\)"),
    re.compile(r"\bHTTP ([0-9]{3})\b"),
    re.compile(r"\bhttp_([0-9]{3})\b"),
)
_CLASS_RES = (
    re.compile(r"\b(?:network|unexpected): ([A-Za-z_][A-Za-z0-9_.]*): "),
    re.compile(r"^([A-Z][A-Za-z0-9_]*(?:Error|Exception|Timeout|Refused)): "),
)
_WHERE_RE = re.compile(r"host='([^']*)', port=([0-9]+)\)?(?:: Max retries exceeded with url: (\S+))?")
_ADDRESS_RE = re.compile(r" at 0x[0-9a-fA-F]+")

_STORAGE_MARKS = (
    ("disk_full", ("disk is full", "no space left", "sqlite_full", "database or disk is full")),
    ("db_locked", ("database is locked", "database table is locked", "sqlite_busy", "database is busy")),
    ("db_readonly", ("readonly database", "read-only file system", "read only file system", "sqlite_readonly")),
    ("db_io", ("disk i/o error", "sqlite_ioerr", "input/output error")),
    ("db_corrupt", ("malformed", "file is not a database", "sqlite_corrupt", "sqlite_notadb")),
    ("db_cantopen", ("unable to open database", "sqlite_cantopen")),
)
_TLS_MARKS = (
    ("tls_expired", ("certificate has expired", "certificate is not yet valid", "not yet valid", "cert_has_expired")),
    ("tls_hostname", ("hostname mismatch", "ip address mismatch", "doesn't match", "does not match")),
    ("tls_untrusted", ("self-signed", "self signed", "unable to get local issuer", "unable to get issuer",
                       "unknown ca", "certificate_verify_failed", "certificate verify failed")),
    ("tls_not_https", ("wrong_version_number", "wrong version number", "http_request", "record layer failure",
                       "packet length too long")),
    ("tls_client_cert", ("certificate required", "certificate_required", "handshake failure", "handshake_failure",
                         "bad certificate", "bad_certificate", "alert", "no shared cipher", "unsupported protocol")),
)
_NET_MARKS = (
    ("proxy", ("proxyerror", "unable to connect to proxy", "tunnel connection failed")),
    ("connect_timeout", ("connecttimeout", "connect timeout")),
    ("read_timeout", ("readtimeout", "read timed out", "read timeout")),
    ("dns", ("nameresolutionerror", "name or service not known", "temporary failure in name resolution",
             "nodename nor servname", "getaddrinfo failed", "no address associated", "failed to resolve")),
    ("no_network", ("network is unreachable", "no route to host", "host is unreachable", "[errno 101]", "[errno 113]")),
    ("refused", ("connection refused", "[errno 111]", "actively refused", "connectionrefusederror")),
    ("connection_reset", ("connection aborted", "connection reset", "remotedisconnected", "chunkedencodingerror",
                          "incompleteread", "broken pipe", "contentdecodingerror", "protocolerror")),
)
_ADDRESS_MARKS = ("must start with http", "invalidurl", "missingschema", "invalidschema", "locationparseerror",
                  "failed to parse", "no connection adapters", "invalid url")
_NOT_OURS_MARKS = ("not our server", "does not speak protocol", "lacks device_id", "no valid per-item results",
                   "has no questionnaire")


def _sanitise(raw: str) -> str:
    """The message without tracebacks, memory addresses or runaway length."""
    raw = str(raw or "")
    cut = raw.find("Traceback (most recent call last)")
    if cut >= 0:
        raw = raw[:cut]
    lines = [ln for ln in raw.splitlines() if not ln.lstrip().startswith(('File "', "^"))]
    raw = " ".join(ln.strip() for ln in lines if ln.strip())
    raw = _ADDRESS_RE.sub("", raw)
    return raw[:400] + ("…" if len(raw) > 400 else "")


def _reason(raw: str) -> str | None:
    """The innermost reason of a requests/urllib3 message (``[Errno 111] Connection refused``)."""
    caused = raw.rfind("Caused by ")
    if caused < 0 and not raw.startswith("network:"):
        return None
    tail = raw[caused + len("Caused by "):] if caused >= 0 else raw
    bracketed = re.findall(r"'(\[[^']+)'", tail)
    if bracketed:
        reason = bracketed[-1]
    elif "): " in tail:
        reason = tail[tail.rfind("): ") + 3:]
    else:
        spaced = [q for q in re.findall(r"'([^']+)'", tail) if " " in q]
        if not spaced:
            return None
        reason = spaced[-1]
    reason = re.sub(r" \(_ssl\.c:[0-9]+\)", "", reason).strip().rstrip(")\"' ")
    reason += ")" * max(0, reason.count("(") - reason.count(")"))
    return reason or None


_TEMPORARY_PREFIXES = ("network:", "server ", "upload answered", "upload answer", "heartbeat answered", "config answered",
                       "config answer", "redirected", "answer is")


def _exception_of(raw: str, context: str) -> str | None:
    """The exception chain a message of :mod:`kiosk.sync` stands for (``EnrollError ← SyncTemporaryError ← …``)."""
    chain: list[str] = []
    rest = raw
    if rest.startswith("config after enrolment: "):
        rest = rest[len("config after enrolment: "):]
    if context == "enrol":
        chain.append("EnrollError")
        if rest.startswith("server unreachable: "):
            rest = rest[len("server unreachable: "):]
    if rest.startswith("token refused: ") or ("token is refused" in rest):
        chain.append("SyncAuthError")
    elif rest.startswith(_TEMPORARY_PREFIXES):
        chain.append("SyncTemporaryError")
    inner = next((m.group(1) for r in _CLASS_RES if (m := r.search(rest))), None)
    if inner:
        chain.append(inner)
    return " ← ".join(dict.fromkeys(chain)) or None


def classify(message: str, context: str = "sync", exception: str | None = None) -> Facts:
    """Pull a technical error string apart: which kind it is, and its code, status and class.

    ``context`` is ``sync``, ``test``, ``enrol`` or ``storage``; ``exception`` the class name when
    the caller caught it (it beats what the string suggests).
    """
    raw = _sanitise(message)
    low = raw.lower()
    code_match = _CODE_RE.search(raw)
    code = code_match.group(1) if code_match else None
    status = next((int(m.group(1)) for r in _STATUS_RES if (m := r.search(raw))), None)
    if status is None and code in CODE_STATUS:
        status = CODE_STATUS[code]
    if exception is None:
        exception = _exception_of(raw, context)
    where_match = _WHERE_RE.search(raw)
    where = None
    if where_match:
        where = f"{where_match.group(1)}:{where_match.group(2)}" + (f" {where_match.group(3)}" if where_match.group(3) else "")
    facts = dict(code=code, status=status, exception=exception, reason=_reason(raw), where=where, raw=raw)

    def kind_of() -> str:
        if context == "storage" or "storeerror" in low or (exception or "").endswith(("StoreError", "sqlite3.OperationalError")):
            for kind, marks in _STORAGE_MARKS:
                if any(m in low for m in marks):
                    return kind
            if context == "storage" or "storeerror" in low:
                return "storage_other"
        for kind, marks in _STORAGE_MARKS:
            if any(m in low for m in marks):
                return kind
        if low.strip() == "not enrolled":
            return "not_enrolled"
        if any(m in low for m in _ADDRESS_MARKS):
            return "address_invalid"
        if code == "enroll_code_invalid" or (context == "enrol" and code == "invalid_body"):
            if "has expired" in low:
                return "code_expired"
            if "already used" in low:
                return "code_used"
            return "code_invalid"
        if code in CODE_KINDS:
            return CODE_KINDS[code]
        if "sslerror" in low or "[ssl" in low or "certificate" in low or "ssl:" in low:
            for kind, marks in _TLS_MARKS:
                if any(m in low for m in marks):
                    return kind
            return "tls_other"
        for kind, marks in _NET_MARKS:
            if any(m in low for m in marks):
                return kind
        if "redirected" in low:
            return "captive_portal"
        if status is not None:
            if status == 429:
                return "server_busy"
            if status in (502, 503, 504):
                return "server_unavailable"
            if status >= 500:
                return "server_error"
            if status in (401, 403) and context != "enrol" and ("token" in low or code):
                return "token_unknown"
            if status in (404, 405):
                return "address_path"
        if any(m in low for m in _NOT_OURS_MARKS) or "answer is " in low or (status is not None and 400 <= status < 500):
            return "not_our_server"
        if "timed out" in low or "timeout" in low:
            return "connect_timeout"
        if "connectionerror" in low or (exception or "").endswith("ConnectionError"):
            return "connect"
        return "unexpected"

    return Facts(kind_of(), **facts)


def details(facts: Facts, lang: str, extra: dict[str, str] | None = None) -> str:
    """The "Chi tiết" text: code, HTTP status, exception class, reason, where, the message."""
    w = WORDS[_lang(lang)]
    lines = []
    if facts.code:
        lines.append(f"{w['code']}: {facts.code}")
    if facts.status:
        lines.append(f"{w['http']}: {facts.status}")
    if facts.exception:
        lines.append(f"{w['exception']}: {facts.exception}")
    if facts.where:
        lines.append(f"{w['where']}: {facts.where}")
    if facts.reason and facts.reason not in (facts.code or ""):
        lines.append(f"{w['message']}: {facts.reason}")
    if facts.raw:
        lines.append(f"{w['raw']}: {facts.raw}")
    for key, value in (extra or {}).items():
        if value:
            lines.append(f"{w.get(key, key)}: {value}")
    return "\n".join(lines)


# --- the public answers ---------------------------------------------------------------------------

def describe_error(message: str | None, lang: str = "vi", context: str = "sync", *, exception: str | None = None,
                   extra: dict[str, str] | None = None) -> Message | None:
    """What a technical error string means for IT staff; None when there is no error."""
    if not message:
        return None
    facts = classify(message, context, exception)
    headline, guidance = text(facts.kind, lang)
    if context == "sync" and facts.kind in TEMPORARY:
        guidance = _join(guidance, text("kept_safe", lang)[1])
    return Message(headline, guidance, details(facts, lang, extra), ok=False, kind=facts.kind)


def describe_sync(report: dict, lang: str = "vi", pending: int | None = None) -> Message:
    """A sync round's report (``SyncService.run_round``) as a sentence, e.g. "Đã gửi 12 phiếu; …"."""
    sent, kept = int(report.get("sent") or 0), int(report.get("kept_aside") or 0)
    waiting = int(pending if pending is not None else 0)
    extra: list[str] = []
    if kept:
        extra.append(text("sync_kept", lang, kept=kept)[1])
    if report.get("config_changed"):
        extra.append(text("sync_config", lang)[1])
    error = describe_error(report.get("error"), lang, "sync")
    if error is not None:
        counts = text("sync_counts" if sent else "sync_waiting", lang, sent=sent, pending=waiting)[1] if (sent or waiting) else ""
        return Message(error.headline, _join(error.guidance, counts, *extra), error.details, ok=False, kind=error.kind)
    if sent:
        kind = "sync_sent"
    elif waiting:
        kind = "sync_none_sent"
    else:
        kind = "sync_nothing"
    headline, guidance = text(kind, lang, sent=sent, pending=waiting)
    return Message(headline, _join(guidance, *extra), "", ok=kind != "sync_none_sent", kind=kind)


_MS_RE = re.compile(r"\bin ([0-9]+) ms\b")


def describe_test(result: dict, lang: str = "vi") -> Message:
    """The connection test's result (``kiosk.sync.check_connection``)."""
    message = str(result.get("message") or result.get("error") or "")
    if result.get("ok"):
        ms = (_MS_RE.search(message) or [None, "?"])[1]
        kind = "test_ok_device" if "token accepted" in message else "test_ok_server"
        headline, guidance = text(kind, lang, ms=ms)
        return Message(headline, guidance, "", ok=True, kind=kind)
    return describe_error(message or "unexpected", lang, "test", exception=result.get("error_class")) or \
        Message(*text("unexpected", lang), kind="unexpected")


def describe_enrol(result: dict, lang: str = "vi", *, label: str = "", server: str = "") -> Message:
    """Enrolment's result: ``{"ok": True, device_id, unit_code, …}`` or ``{"ok": False, "error": …}``."""
    if result.get("ok"):
        headline, guidance = text("enrolled", lang, label=label or result.get("unit_code") or "?",
                                  server=server or result.get("server_url") or "?")
        if result.get("config") is False:
            guidance = _join(guidance, text("enrolled_no_config", lang)[1])
        device = WORDS[_lang(lang)]["device"]
        return Message(headline, guidance, f"{device}: {result.get('device_id', '?')}", ok=True, kind="enrolled")
    if result.get("kind"):
        headline, guidance = text(result["kind"], lang)
        return Message(headline, guidance, "", ok=False, kind=result["kind"])
    return describe_error(str(result.get("error") or "unexpected"), lang, "enrol", exception=result.get("error_class")) or \
        Message(*text("unexpected", lang), kind="unexpected")


def describe_storage(error: dict | str | None, lang: str = "vi") -> Message | None:
    """The store's last storage error (``{"message", "at"}`` or the message); None when none."""
    message = error.get("message") if isinstance(error, dict) else error
    return describe_error(message, lang, "storage", exception="StoreError") if message else None


def describe_job(name: str, result: dict, lang: str = "vi", **kw) -> Message:
    """A worker job's result (``test_connection``, ``enrol``, or anything else)."""
    if name == "test_connection":
        return describe_test(result, lang)
    if name == "enrol":
        return describe_enrol(result, lang, **kw)
    if result.get("ok"):
        return Message(*text("done", lang), ok=True, kind="done")
    return describe_error(str(result.get("error") or "unexpected"), lang, "sync", exception=result.get("error_class")) or \
        Message(*text("unexpected", lang), kind="unexpected")


def kept_reason(reason: str | None, lang: str = "vi") -> str:
    """Why one answer was kept aside, short (``rejected: invalid_answer: …`` → "câu trả lời không khớp …")."""
    reasons = KEPT_REASONS[_lang(lang)]
    parts = [p.strip() for p in str(reason or "").split(":")]
    code = next((p for p in parts[1:2] + parts[:1] if p in reasons), None)
    if code is None:
        match = re.search(r"\b(" + "|".join(k for k in reasons if not k.startswith("_")) + r")\b", str(reason or ""))
        code = match.group(1) if match else "_other"
    return reasons[code]


def kept_code(reason: str | None) -> str:
    """The code of a kept-aside reason (``rejected: invalid_answer: …`` → ``invalid_answer``)."""
    parts = [p.strip() for p in str(reason or "").split(":")]
    return parts[1] if len(parts) > 1 and parts[1] else (parts[0] or "?")


# --- times and names ----------------------------------------------------------------------------

def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time as the store keeps it (aware), or None when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def local_time(value: str | None, zone: tzinfo, lang: str = "vi") -> str:
    """A stored time in the province's zone as ``dd/mm/yyyy HH:MM``; "chưa có" when there is none."""
    moment = parse_time(value)
    if moment is None:
        return str(value) if value else WORDS[_lang(lang)]["never"]
    return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M")


def is_later(a: str | None, b: str | None) -> bool:
    """True when stored time ``a`` is after stored time ``b`` (both present and readable)."""
    ta, tb = parse_time(a), parse_time(b)
    return ta is not None and tb is not None and ta > tb


def kiosk_label(device_name: str | None, unit_name: str | None, device_id: str | None, lang: str = "vi") -> str:
    """The kiosk's human name: the one the server gave it, else its unit's name; with a short id.

    The short id is the first characters of the device id, as the server's "Máy kiosk" page shows.
    """
    short = (device_id or "")[:SHORT_ID]
    name = (device_name or "").strip() or (unit_name or "").strip()
    word = WORDS[_lang(lang)]["kiosk"]
    if name and short:
        return f"{name} ({word} {short})"
    return name or (f"{word} {short}" if short else WORDS[_lang(lang)]["none"])
