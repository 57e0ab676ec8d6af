"""The console's words in Indonesian (default, as the portals) and English.

``?lang=en`` or ``?lang=id`` switches and is remembered in a cookie. Templates call
``t("key")``; a missing key shows the key itself, and a test checks both languages have
every key.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")

TEXT: dict[str, tuple[str, str]] = {
    "app": ("Gateway PDE Bea Cukai", "PDE Gateway, Indonesian Customs"),
    "login": ("Masuk", "Log in"),
    "logout": ("Keluar", "Log out"),
    "username": ("Nama pengguna", "User name"),
    "password": ("Kata sandi", "Password"),
    "bad_login": ("Nama pengguna atau kata sandi salah.", "Wrong user name or password."),
    "locked": (
        "Terlalu banyak percobaan gagal; coba lagi nanti.",
        "Too many failed attempts; try again later.",
    ),
    "dashboard": ("Dasbor", "Dashboard"),
    "search": ("Cari", "Search"),
    "upload": ("Unggah", "Upload"),
    "agencies": (
        "Keagenan: prinsipal yang boleh diajukan atas namanya",
        "Agencies: principals it may file for",
    ),
    "principal": ("Nama prinsipal", "Principal's name"),
    "add_agency": ("Tambah keagenan", "Add agency"),
    "other_offices": (
        "Berkas ini juga memuat dokumen untuk kantor lain; berkas aslinya hanya dapat dilihat "
        "pengirim dan operator. Dokumen kantor Anda ditampilkan di atas sebagaimana dibaca "
        "gateway.",
        "This file also holds documents for other offices; its original is shown only to "
        "the sender and operators. Your office's documents are shown above as the gateway "
        "read them.",
    ),
    "counter_note": (
        "Media penyimpan elektronik yang dibawa pengangkut ke loket kantor {office} "
        "(Pasal 3(1)b, 5(1)b, 9(1)b): hanya dokumen untuk kantor ini yang diterima.",
        "Electronic storage media a carrier brings to the counter of office {office} "
        "(Art. 3(1)b, 5(1)b, 9(1)b): only documents for this office are accepted.",
    ),
    "manual": ("Rekam dokumen kertas", "Key in paper"),
    "amendments": ("Persetujuan perbaikan", "Amendment approvals"),
    "open_pos": ("Pos terbuka", "Open pos"),
    "partners": ("Mitra", "Partners"),
    "by_status": ("Menurut status", "By status"),
    "by_type": ("Menurut jenis dokumen", "By document type"),
    "by_channel": ("Menurut saluran", "By channel"),
    "by_office": ("Menurut kantor", "By office"),
    "waiting": ("Menunggu diproses", "Waiting to be processed"),
    "oldest": ("Tertua sejak", "Oldest since"),
    "last_24h": (
        "Diterima / terdaftar / ditolak per jam, 24 jam terakhir",
        "Received / registered / refused per hour, last 24 h",
    ),
    "received": ("Diterima", "Received"),
    "registered": ("Terdaftar", "Registered"),
    "refused": ("Ditolak", "Refused"),
    "late": ("Pengajuan terlambat", "Late filings"),
    "none": ("Tidak ada.", "None."),
    "submission": ("Pengajuan", "Submission"),
    "status": ("Status", "Status"),
    "registration": ("Pendaftaran", "Registration"),
    "errors": ("Alasan dan peringatan", "Reasons and warnings"),
    "where": ("Letak dalam berkas", "Place in the file"),
    "acks": ("Tanda terima dan tanggapan", "Receipts and responses"),
    "timeline": ("Riwayat", "Timeline"),
    "raw": ("Berkas asli", "Raw file"),
    "document": ("Dokumen", "Document"),
    "file": ("Berkas", "File"),
    "carrier": ("Pengangkut", "Carrier"),
    "send": ("Kirim", "Send"),
    "query": (
        "Nomor aju, nomor pendaftaran, B/L, AWB, sarana pengangkut, voyage",
        "Nomor aju, registration number, B/L, AWB, vessel/flight, voyage",
    ),
    "from": ("Dari", "From"),
    "until": ("Sampai", "Until"),
    "results": ("Hasil", "Results"),
    "not_found": ("Tidak ditemukan.", "Not found."),
    "forbidden": ("Anda tidak berhak membuka halaman ini.", "You may not open this page."),
    # {seconds}: the Retry-After of the answer (gateway/web/unavailable.py).
    "unavailable": (
        "Gateway sementara tidak dapat melayani: basis data atau penyimpanannya tidak "
        "tersedia. Coba lagi dalam {seconds} detik.",
        "The gateway cannot serve right now: its database or storage is unavailable. "
        "Try again in {seconds} seconds.",
    ),
    "uploaded": ("Berkas diterima sebagai pengajuan", "File received as submission"),
    "progress": ("Kemajuan unggahan", "Upload progress"),
    "office": ("Kantor", "Office"),
    "conveyance": ("Sarana pengangkut", "Conveyance"),
    "voyage": ("Nomor voyage/penerbangan", "Voyage/flight number"),
    "imo": ("Nomor IMO", "IMO number"),
    "flag": ("Bendera", "Flag"),
    "eta": ("Perkiraan tiba (waktu setempat)", "Expected arrival (local time)"),
    "etd": ("Perkiraan berangkat (waktu setempat)", "Expected departure (local time)"),
    "origin": ("Pelabuhan asal", "Port of origin"),
    "last_port": ("Pelabuhan terakhir", "Last port of call"),
    "arrival_port": ("Pelabuhan tujuan", "Port of arrival"),
    "next_port": ("Pelabuhan berikut", "Next port"),
    "mode": ("Moda", "Mode"),
    "rksp_form": ("RKSP dari dokumen kertas", "RKSP from a paper document"),
    "approve": ("Setujui", "Approve"),
    "refuse": ("Tolak", "Refuse"),
    "reason": ("Alasan", "Reason"),
    "age": ("Umur", "Age"),
    "remaining": ("Sisa", "Remaining"),
    "users": ("Pengguna", "Users"),
    "add_user": ("Tambah pengguna", "Add a user"),
    "name": ("Nama", "Name"),
    "role": ("Peran", "Role"),
    "password_rule": (
        "Minimal 6 karakter dengan huruf besar, angka dan simbol.",
        "At least 6 characters with an upper-case letter, a digit and a symbol.",
    ),
    "pending": ("Menunggu persetujuan", "Waiting for approval"),
    "decided": ("Sudah diputuskan", "Decided"),
    "kind": ("Jenis", "Kind"),
    "requested": ("Diajukan", "Requested"),
    "changes": ("Perubahan", "Changes"),
    "decided_by": ("Diputuskan oleh", "Decided by"),
    "reason_required": (
        "Penolakan memerlukan alasan.",
        "A refusal needs a reason.",
    ),
    "agreements": ("Perjanjian PDE", "PDE agreements"),
    "add_agreement": ("Tambah perjanjian", "Add an agreement"),
    "valid_from": ("Berlaku mulai", "Valid from"),
    "valid_until": ("Berlaku sampai", "Valid until"),
    "sftp_keys": ("Kunci SFTP", "SFTP keys"),
    "add_key": ("Tambah kunci publik", "Add a public key"),
    "revoke": ("Cabut", "Revoke"),
    "pull": ("Penarikan SFTP", "SFTP pull"),
    "manifest_form": ("Manifes dari dokumen kertas", "Manifest from a paper document"),
    "direction": ("Arah", "Direction"),
    "doc_language": ("Bahasa dokumen", "Language of the document"),
    "moment": (
        "Waktu kedatangan / keberangkatan (waktu setempat)",
        "Moment of arrival / departure (local time)",
    ),
    "pos_help": (
        "Satu baris per B/L atau AWB; baris kosong diabaikan; tanpa baris = manifes nihil.",
        "One line per B/L or AWB; empty lines are ignored; no line at all = nil manifest.",
    ),
    "overdue": (
        "Sarana pengangkut tiba tanpa manifes dalam batas waktu",
        "Conveyances arrived without a manifest within the deadline",
    ),
    "due": ("batas", "due"),
    "parsed": ("Isi dokumen seperti dibaca gateway", "The document as the gateway read it"),
    # What actually happened at a call (gateway/web/calls.py)
    "call_facts": (
        "Kedatangan dan keberangkatan sebenarnya",
        "Actual arrival and departure",
    ),
    "overdue_outward": (
        "Sarana pengangkut berangkat tanpa outward manifest dalam 24 jam",
        "Conveyances departed without an outward manifest within 24 h",
    ),
    "times_in": ("Waktu setempat kantor:", "Times in the office's local time:"),
    "now": ("sekarang", "now"),
    "arrival": ("Kedatangan", "Arrival"),
    "departure": ("Keberangkatan", "Departure"),
    "inward_due": ("Batas inward manifest", "Inward manifest due"),
    "outward_due": ("Batas outward manifest", "Outward manifest due"),
    "basis": ("dasar", "basis"),
    "basis_actual": ("sebenarnya", "actual"),
    "basis_announced": ("sesuai pemberitahuan", "announced"),
    "source_officer": ("dicatat petugas", "recorded by an officer"),
    "source_carrier": ("diberitahukan pengangkut", "reported by the carrier"),
    "record_fact": (
        "Catat kedatangan / keberangkatan sebenarnya",
        "Record an actual arrival / departure",
    ),
    "event": ("Kejadian", "Event"),
    "event_arrival": ("Kedatangan (lego jangkar / mendarat / tiba)", "Arrival (anchored / landed)"),
    "event_departure": (
        "Keberangkatan (angkat jangkar / lepas landas / meninggalkan)",
        "Departure (weighed anchor / took off / left)",
    ),
    "actual_time": ("Waktu sebenarnya", "Actual time"),
    "record": ("Catat", "Record"),
    "fact_history": ("Riwayat pencatatan", "Records, oldest first"),
    "event_required": ("Pilih kejadian: kedatangan atau keberangkatan.", "Choose the event."),
    "control_characters": (
        "Isian memuat karakter kendali; ketik ulang nilainya.",
        "A field holds a control character; type its value again.",
    ),
    "language": ("English", "Bahasa Indonesia"),
}


def translate(lang: str, key: str) -> str:
    texts = TEXT.get(key)
    if texts is None:
        return key
    return texts[1] if lang == "en" else texts[0]
