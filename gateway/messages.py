"""The catalogue of refusal and warning reasons: stable code -> Indonesian and English text.

Codes never change meaning once published: carriers' systems match on them. Templates use
``str.format`` fields filled from the finding's context.
"""

from __future__ import annotations

import dataclasses
import re

from gateway.model.findings import Finding, Location, Severity

# The refusal of a file the gateway could not read (a defect met while reading it,
# gateway/unreadable.py); storage counts such files and re-reads them by this code.
UNREADABLE = "FILE-007"

CATALOGUE: dict[str, tuple[str, str]] = {
    # The file as a whole
    "FILE-001": ("Berkas kosong.", "The file is empty."),
    "FILE-002": (
        "Ukuran berkas {size} byte melebihi batas {limit} byte.",
        "The file is {size} bytes, over the limit of {limit} bytes.",
    ),
    "FILE-003": (
        "Berkas bukan teks yang sah dalam pengkodean {encoding}: {detail}.",
        "The file is not valid {encoding} text: {detail}.",
    ),
    "FILE-004": (
        "Format berkas tidak dikenali (bukan XML, X12 atau EDIFACT).",
        "The file format is not recognised (not XML, X12 or EDIFACT).",
    ),
    "FILE-005": (
        "Format {format} belum dilayani oleh gateway ini.",
        "The {format} format is not served by this gateway yet.",
    ),
    "FILE-006": (
        "Berkas tidak memuat satu dokumen pun.",
        "The file holds no document.",
    ),
    # A defect of the gateway met while reading this file (not the carrier's fault as far as
    # is known): the bytes are kept and an operator replays the file once the fault is fixed.
    "FILE-007": (
        "Gateway tidak dapat membaca berkas ini (rujukan {reference}); berkas disimpan dan "
        "akan diproses ulang setelah gangguan diperbaiki. Sebutkan rujukan ini bila "
        "menghubungi operator.",
        "The gateway could not read the file (reference {reference}); the file is kept and "
        "will be processed again once the fault is fixed. Quote this reference when you "
        "contact the operators.",
    ),
    # XML
    "XML-001": ("XML tidak well-formed: {detail}.", "The XML is not well-formed: {detail}."),
    "XML-002": (
        "Deklarasi DTD/DOCTYPE/ENTITY tidak diizinkan.",
        "DTD, DOCTYPE and ENTITY declarations are not allowed.",
    ),
    "XML-003": ("Tidak sesuai skema: {detail}.", "Not valid against the schema: {detail}."),
    "XML-004": (
        "Elemen akar {root} tidak dikenal.",
        "The root element {root} is not a known document.",
    ),
    # X12 envelope and syntax (the acknowledgment code is in each message)
    "X12-001": (
        "Bukan interchange X12 yang dapat dibaca: {detail}.",
        "Not a readable X12 interchange: {detail}.",
    ),
    "X12-002": (
        "Amplop interchange ditolak (TA1 {ack}): {detail}.",
        "The interchange envelope is refused (TA1 {ack}): {detail}.",
    ),
    "X12-003": (
        "Functional group {group} ditolak (AK905 {ack}): {detail}.",
        "Functional group {group} is refused (AK905 {ack}): {detail}.",
    ),
    "X12-004": (
        "Transaction set {set_id} {control} ditolak (AK502 {ack}): {detail}.",
        "Transaction set {set_id} {control} is refused (AK502 {ack}): {detail}.",
    ),
    "X12-005": (
        "Segmen {segment} pada posisi {position} salah (AK304 {ack}): {detail}.",
        "Segment {segment} at position {position} is wrong (AK304 {ack}): {detail}.",
    ),
    "X12-006": (
        "Elemen {segment}{element:02d} salah (AK403 {ack}): {detail}.",
        "Element {segment}{element:02d} is wrong (AK403 {ack}): {detail}.",
    ),
    "X12-007": (
        "Transaction set {set_id} (GS01 {fic}, GS08 {version}) tidak dilayani gateway ini.",
        "Transaction set {set_id} (GS01 {fic}, GS08 {version}) is not served by this gateway.",
    ),
    "X12-008": (
        "Pengirim ISA06 {sender_id} bukan pengenal X12 pengangkut {sender}.",
        "The ISA06 sender {sender_id} is not carrier {sender}'s X12 identifier.",
    ),
    "DUP-003": (
        "Duplikat: nomor kendali interchange {control} sudah diterima dari pengirim ini.",
        "Duplicate: interchange control number {control} was already received from this sender.",
    ),
    # UN/EDIFACT envelope and syntax (the CONTRL code is in each message)
    "EDI-001": (
        "Bukan interchange EDIFACT yang dapat dibaca: {detail}.",
        "Not a readable EDIFACT interchange: {detail}.",
    ),
    "EDI-002": (
        "Interchange ditolak (CONTRL {ack}): {detail}.",
        "The interchange is refused (CONTRL {ack}): {detail}.",
    ),
    "EDI-003": (
        "Message {reference} ditolak (CONTRL {ack}): {detail}.",
        "Message {reference} is refused (CONTRL {ack}): {detail}.",
    ),
    "EDI-004": (
        "Segmen {segment} pada posisi {position} salah (CONTRL {ack}): {detail}.",
        "Segment {segment} at position {position} is wrong (CONTRL {ack}): {detail}.",
    ),
    "EDI-005": (
        "Message {type} tidak dilayani gateway ini.",
        "The message {type} is not served by this gateway.",
    ),
    # Sender and office
    "SND-001": (
        "Pengirim {sender} tidak terdaftar.",
        "The sender {sender} is not a registered carrier.",
    ),
    "SND-003": (
        "Pengirim pada amplop {format} ({sender_id}) bukan pengenal pengangkut {sender}.",
        "The {format} envelope's sender ({sender_id}) is not carrier {sender}'s identifier.",
    ),
    "SND-002": (
        "Pengangkut {sender} tidak memiliki perjanjian PDE yang berlaku dengan kantor {office} "
        "(Pasal 13).",
        "The carrier {sender} has no PDE agreement in force with office {office} (Art. 13).",
    ),
    "SND-004": (
        "Dokumen ini atas nama pengangkut {party} (NPWP {npwp}), tetapi dikirim oleh {sender} "
        "({sender_name}, NPWP {sender_npwp}) yang tidak tercatat sebagai agennya pada tanggal "
        "{day}. Pengangkut hanya mengajukan dokumennya sendiri atau dokumen prinsipal yang "
        "tercatat.",
        "This document is in the name of carrier {party} (NPWP {npwp}) but was sent by "
        "{sender} ({sender_name}, NPWP {sender_npwp}), which is not recorded as its agent on "
        "{day}. A carrier files only its own documents or those of a recorded principal.",
    ),
    "SND-005": (
        "Pengangkut pada dokumen ({party}) tanpa NPWP tidak dapat dikenali sebagai {sender} "
        "({sender_name}) atau prinsipalnya; cantumkan NPWP pengangkut.",
        "The carrier in the document ({party}) has no NPWP and is not {sender} "
        "({sender_name}) or one of its principals by name; give the carrier's NPWP.",
    ),
    "SND-006": (
        "{kind} {number} tanggal {date} kantor {office} terdaftar atas nama pengangkut lain "
        "({holder}); {sender} tidak dapat mengubah atau menutupnya.",
        "{kind} {number} of {date} at office {office} is registered to another carrier "
        "({holder}); {sender} cannot change or close it.",
    ),
    "OFF-003": (
        "Berkas diterima di loket kantor {counter}; dokumen untuk kantor {office} diajukan "
        "di kantor itu sendiri (Pasal 3(1)b, 5(1)b, 9(1)b).",
        "The file was taken at the counter of office {counter}; a document for office "
        "{office} is handed in at that office (Art. 3(1)b, 5(1)b, 9(1)b).",
    ),
    "OFF-001": ("Kantor pabean {office} tidak dikenal.", "The customs office {office} is unknown."),
    "OFF-002": (
        "Kantor pabean {office} tidak melayani saluran {channel} (Pasal 3, 5, 9).",
        "The customs office {office} does not run the {channel} channel (Art. 3, 5, 9).",
    ),
    # Identifiers
    "ID-001": ("NPWP {value} tidak sah.", "The NPWP {value} is not valid."),
    "ID-002": ("Nomor IMO {value} tidak sah.", "The IMO number {value} is not valid."),
    "ID-003": (
        "Nomor peti kemas {value} tidak sah (ISO 6346, digit pemeriksa).",
        "The container number {value} is not valid (ISO 6346 check digit).",
    ),
    "ID-004": (
        "Kode lokasi {value} tidak ada dalam UN/LOCODE (edisi {edition}) maupun kode "
        "kantor pabean.",
        "The location code {value} is not in UN/LOCODE (edition {edition}) nor an office's "
        "own code.",
    ),
    "ID-005": (
        "Kode HS {value} harus sekurang-kurangnya 4 digit (Pasal 4 ayat 5).",
        "The HS code {value} must have at least 4 digits (Art. 4(5)).",
    ),
    "ID-006": (
        "Kode negara {value} bukan kode ISO 3166 yang sah.",
        "The country code {value} is not a valid ISO 3166 code.",
    ),
    "ID-007": (
        "Kode jenis kemasan {value} tidak ada dalam UN/ECE Rekomendasi 21 (revisi {edition}).",
        "The package type {value} is not in UN/ECE Recommendation 21 (revision {edition}).",
    ),
    # Duplicates and references
    "DUP-001": (
        "Duplikat: dokumen dengan isi yang sama sudah diterima sebagai {nomor_aju}.",
        "Duplicate: a document with the same content was already received as {nomor_aju}.",
    ),
    "DUP-002": (
        "Duplikat: nomor aju {nomor_aju} sudah dipakai oleh pengirim ini.",
        "Duplicate: submission number {nomor_aju} was already used by this sender.",
    ),
    # One number per call (gateway/call_keys.py): whoever sent the first, the call has it.
    "CALL-001": (
        "Kedatangan {conveyance} voyage {voyage} tanggal {day} di kantor {office} sudah "
        "terdaftar sebagai BC 1.0 nomor {number} tanggal {date} ({document}); ajukan "
        "perubahan atas BC 1.0 itu (Pasal 2 ayat 3), bukan {sent} baru.",
        "The call of {conveyance} voyage {voyage} on {day} at office {office} is already "
        "registered as BC 1.0 number {number} of {date} ({document}); send a change of that "
        "BC 1.0 (Art. 2(3)), not a new {sent}.",
    ),
    "CALL-002": (
        "{event_id} {conveyance} voyage {voyage} tanggal {day} di kantor {office} sudah "
        "mempunyai BC 1.1 {direction} nomor {number} tanggal {date}; koreksi diajukan sebagai "
        "perbaikan BC 1.1 itu (Pasal 6), bukan manifes kedua.",
        "The {event_en} of {conveyance} voyage {voyage} on {day} at office {office} already "
        "has {direction} BC 1.1 number {number} of {date}; corrections are amendments of that "
        "BC 1.1 (Art. 6), not a second manifest.",
    ),
    "AJU-001": (
        "Nomor aju {nomor_aju} tidak sesuai: {detail}.",
        "The submission number {nomor_aju} is not valid: {detail}.",
    ),
    "REF-001": (
        "BC 1.1 nomor {number} tanggal {date} di kantor {office} tidak ditemukan.",
        "BC 1.1 number {number} of {date} at office {office} does not exist.",
    ),
    "REF-002": (
        "Pos {pos} tidak ada dalam BC 1.1 nomor {number}.",
        "Pos {pos} is not in BC 1.1 number {number}.",
    ),
    # Amendments of a BC 1.1 (Art. 6): refusals, then the head of office's decisions
    "AMD-001": (
        "Pos {pos} berstatus {status}: pos yang sudah ditutup atau digabung tidak dapat "
        "diperbaiki.",
        "Pos {pos} is {status}: a pos that is closed or merged cannot be amended.",
    ),
    "AMD-002": (
        "Elemen {field} tidak dapat diperbaiki dengan perbaikan jenis {kind} "
        "(Pasal 6 ayat 1 huruf {letter}).",
        "The field {field} cannot be changed by an amendment of kind {kind} (Art. 6(1) {letter}).",
    ),
    "AMD-003": (
        "Nilai lama {field} '{old}' tidak sama dengan nilai saat ini '{current}' pada pos "
        "{pos}: perbaikan atas data yang sudah berubah.",
        "The old value of {field} '{old}' is not the current value '{current}' of pos {pos}: "
        "the amendment is about stale data.",
    ),
    "AMD-004": (
        "Perbaikan jenis {kind} tidak memuat {what}.",
        "An amendment of kind {kind} must give {what}.",
    ),
    "AMD-005": (
        "Penggabungan pos memerlukan revisi B/L atau AWB yang telah diterbitkan "
        "(Pasal 6 ayat 1 huruf d angka 3).",
        "Merging pos needs the revised B/L or AWB that was issued (Art. 6(1) d 3).",
    ),
    "AMD-006": (
        "Pos {other} tidak dapat digabung ke pos {pos}: {field} berbeda ('{theirs}' dan "
        "'{ours}') (Pasal 6 ayat 1 huruf d angka 2).",
        "Pos {other} cannot be merged into pos {pos}: the {field} differs ('{theirs}' and "
        "'{ours}') (Art. 6(1) d 2).",
    ),
    "AMD-007": (
        "Sub-pos {sub} tidak dapat ditambahkan di bawah pos {pos}: sudah ada atau bukan "
        "rincian langsung pos tersebut.",
        "Sub-pos {sub} cannot be added under pos {pos}: it exists already or is not directly "
        "under that pos.",
    ),
    "AMD-008": (
        "Perbaikan jenis {kind} menunggu persetujuan Kepala Kantor Pabean (Pasal 6 ayat 2); "
        "pos belum berubah.",
        "An amendment of kind {kind} waits for the head of office's approval (Art. 6(2)); "
        "the pos is unchanged until then.",
    ),
    "AMD-009": (
        "Pos {pos} disebut lebih dari sekali dalam penggabungan.",
        "Pos {pos} is named more than once in the merge.",
    ),
    "AMD-010": (
        "Isi pos {pos} tidak tersimpan (didaftarkan sebelum riwayat pos); perbaikan tidak "
        "dapat diperiksa.",
        "The content of pos {pos} was not kept (registered before the pos history); the "
        "amendment cannot be checked.",
    ),
    "AMD-011": (
        "Perubahan {field} tidak dapat dilakukan: {detail}.",
        "The change of {field} cannot be made: {detail}.",
    ),
    "AMD-101": (
        "Perbaikan {nomor_aju} disetujui oleh {by} pada {at}; pos {pos} sekarang versi {version}.",
        "Amendment {nomor_aju} approved by {by} at {at}; pos {pos} is now version {version}.",
    ),
    "AMD-102": (
        "Perbaikan {nomor_aju} ditolak oleh {by} pada {at}: {reason}.",
        "Amendment {nomor_aju} refused by {by} at {at}: {reason}.",
    ),
    "AMD-103": (
        "Perbaikan {nomor_aju} tidak menunggu persetujuan (status {status}).",
        "Amendment {nomor_aju} is not waiting for approval (status {status}).",
    ),
    "AMD-104": (
        "Perbaikan {nomor_aju} tidak dapat disetujui karena pos telah berubah: {detail}",
        "Amendment {nomor_aju} cannot be approved because the pos changed: {detail}",
    ),
    "AMD-105": (
        "Perbaikan {key} tidak ditemukan.",
        "There is no amendment {key}.",
    ),
    "AMD-106": (
        "Penolakan perbaikan memerlukan alasan paling banyak {limit} karakter "
        "({length} karakter diberikan).",
        "Refusing an amendment needs a reason of at most {limit} characters ({length} given).",
    ),
    # Pos closing (Art. 10)
    "CLS-001": (
        "Penutupan {asked} kemasan melebihi sisa pos {pos}: tinggal {remaining} kemasan.",
        "Closing {asked} packages is more than pos {pos} holds: {remaining} packages remain.",
    ),
    "CLS-002": (
        "Penutupan {asked} kg melebihi sisa berat pos {pos}: tinggal {remaining} kg.",
        "Closing {asked} kg is more than pos {pos} holds: {remaining} kg remain.",
    ),
    "CLS-003": (
        "Pos {pos} berstatus {status} dan tidak dapat ditutup lagi.",
        "Pos {pos} is {status} and cannot be closed again.",
    ),
    # Timing (flags and warnings)
    "LATE-001": (
        "RKSP/JKSP terlambat {lateness}: wajib paling lambat 24 jam sebelum kedatangan, "
        "yaitu {due} (Pasal 2).",
        "RKSP/JKSP filed {lateness} late: due at least 24 h before arrival, i.e. by {due} "
        "(Art. 2).",
    ),
    "LATE-002": (
        "Outward manifest terlambat {lateness}: wajib paling lambat 24 jam sejak "
        "keberangkatan, yaitu {due} (Pasal 8 ayat 2).",
        "Outward manifest filed {lateness} late: due at the latest 24 h after departure, "
        "i.e. by {due} (Art. 8(2)).",
    ),
    "LATE-003": (
        "Inward manifest terlambat {lateness}: wajib paling lambat {basis_id}, yaitu {due} "
        "(Pasal 4 ayat 2 dan 3).",
        "Inward manifest filed {lateness} late: due {basis_en}, i.e. by {due} (Art. 4(2), 4(3)).",
    ),
    "LATE-004": (
        "Inward manifest keadaan darurat terlambat {lateness}: wajib paling lama 72 jam sesudah "
        "pembongkaran, yaitu {due} (Pasal 4 ayat 10).",
        "Emergency inward manifest filed {lateness} late: due at the latest 72 h after "
        "unloading, i.e. by {due} (Art. 4(10)).",
    ),
    "LATE-005": (
        "Daftar penumpang terlambat {lateness}: wajib paling lambat 1 jam sebelum kedatangan, "
        "yaitu {due} (Pasal 4 ayat 8).",
        "Passenger list filed {lateness} late: due at least 1 h before arrival, i.e. by {due} "
        "(Art. 4(8)).",
    ),
    # Deadlines that refuse, and documents that are not required
    "DL-001": (
        "Perubahan RKSP (BC 1.0 nomor {number}) diterima {lateness} sesudah kedatangan "
        "{arrival}: perubahan wajib paling lambat pada saat kedatangan (Pasal 2 ayat 3a).",
        "Change to the RKSP (BC 1.0 number {number}) received {lateness} after the arrival at "
        "{arrival}: changes are due at the latest at the arrival (Art. 2(3)(a)).",
    ),
    "DL-002": (
        "Perubahan JKSP (BC 1.0 nomor {number}) diterima {lateness} sesudah kedatangan pertama "
        "{arrival}: perubahan wajib paling lambat pada saat kedatangan pertama (Pasal 2 ayat 3b).",
        "Change to the JKSP (BC 1.0 number {number}) received {lateness} after the first "
        "arrival at {arrival}: changes are due at the latest at the first arrival "
        "(Art. 2(3)(b)).",
    ),
    "DL-003": (
        "RKSP/JKSP tidak wajib bagi sarana pengangkut yang datang dari luar Daerah Pabean "
        "melalui darat (Pasal 2 ayat 4): diterima tanpa nomor BC 1.0.",
        "No RKSP/JKSP is required of a conveyance arriving from abroad by land (Art. 2(4)): "
        "accepted without a BC 1.0 number.",
    ),
    "DL-004": (
        "Manifes tidak wajib: tidak ada bongkar/muat dan sarana pengangkut singgah tidak lebih "
        "dari {hours} jam (Pasal 4 ayat 11, Pasal 8 ayat 7).",
        "No manifest is required: nothing loaded or unloaded and a stay of at most {hours} h "
        "(Art. 4(11), 8(7)).",
    ),
    # What actually happened at a call: the carrier's arrival report, the officer's record
    "ACT-001": (
        "Waktu {what_id} sebenarnya {at} (voyage {voyage}) belum terjadi saat diterima "
        "{now}: hanya kejadian yang sudah terjadi yang dapat diberitahukan (Pasal 1 angka 18, "
        "19).",
        "The actual {what_en} {at} (voyage {voyage}) had not happened when received at {now}: "
        "only what has happened can be reported (Art. 1 items 18, 19).",
    ),
    "ACT-002": (
        "Keberangkatan sebenarnya {departure} (voyage {voyage}) lebih awal dari kedatangan "
        "sebenarnya {arrival}.",
        "The actual departure {departure} (voyage {voyage}) is before the actual arrival "
        "{arrival}.",
    ),
    "ACT-003": (
        "Voyage {voyage} bukan kedatangan dari BC 1.0 nomor {number} (voyage: {voyages}): "
        "waktu sebenarnya hanya dicatat untuk kedatangan BC 1.0 tersebut.",
        "Voyage {voyage} is not a call of BC 1.0 number {number} (its voyages: {voyages}): "
        "actual times are recorded for that BC 1.0's calls only.",
    ),
    "ACT-004": (
        "Diterima sesudah kedatangan {arrival} sebagai pemberitahuan waktu kedatangan/"
        "keberangkatan sebenarnya untuk BC 1.0 nomor {number}: hanya waktu sebenarnya yang "
        "dicatat; isi lainnya bukan perubahan (Pasal 2 ayat 3).",
        "Received after the arrival at {arrival} as the report of the actual arrival/departure "
        "of BC 1.0 number {number}: only the actual times are recorded; nothing else in it is "
        "a change (Art. 2(3)).",
    ),
    "ACT-005": (
        "BC 1.0 nomor {number} tanggal {date} tidak terdaftar di kantor {office}.",
        "No BC 1.0 number {number} of {date} is registered at office {office}.",
    ),
    "ACT-006": (
        "Waktu {what_id} {at} tidak dapat dibaca; tulis sebagai YYYY-MM-DDTHH:MM waktu "
        "setempat kantor.",
        "The {what_en} time {at} cannot be read; write it as YYYY-MM-DDTHH:MM in the "
        "office's local time.",
    ),
    # Manifest content
    "MAN-001": (
        "Kelompok pos {group} tidak sah untuk manifes {direction_id}: hanya {low}-{high} "
        "(Pasal 4 ayat 4, Pasal 8 ayat 3).",
        "Group {group} is not valid in an {direction_en} manifest: only {low}-{high} "
        "(Art. 4(4), 8(3)).",
    ),
    "MAN-002": (
        "Pos {pos} tercantum {count} kali: setiap pos masuk tepat satu kelompok (Pasal 4 ayat 4).",
        "Pos {pos} occurs {count} times: every pos belongs to exactly one group (Art. 4(4)).",
    ),
    "MAN-003": (
        "Dokumen pengangkutan {document} pada pos {pos} sudah dipakai pos {first}: satu pos "
        "untuk setiap B/L atau AWB (Pasal 4 ayat 5).",
        "Transport document {document} of pos {pos} is already pos {first}'s: one pos per B/L "
        "or AWB (Art. 4(5)).",
    ),
    "MAN-004": (
        "Jenis dokumen pengangkutan {kind} tidak sesuai dengan moda {mode} (Pasal 4 ayat 5).",
        "Transport document kind {kind} does not fit the {mode} mode (Art. 4(5)).",
    ),
    "MAN-005": (
        "Kode HS {value}: pos HS 4 digit {heading} tidak ada (Pasal 4 ayat 5).",
        "HS code {value}: the 4-digit HS heading {heading} does not exist (Art. 4(5)).",
    ),
    "MAN-006": (
        "Pos {pos}: uraian barang ke-{item} wajib diisi, termasuk 5 jenis barang terbesar "
        "(Pasal 4 ayat 6).",
        "Pos {pos}: goods item {item} must be described: it is among the five largest "
        "kinds (Art. 4(6)).",
    ),
    "MAN-007": (
        "Pemberitahuan nihil tidak boleh memuat pos (Pasal 4 ayat 9).",
        "A nil manifest must not hold any pos (Art. 4(9)).",
    ),
    "MAN-008": (
        "Manifes tanpa pos wajib diserahkan sebagai pemberitahuan nihil (Pasal 4 ayat 9).",
        "A manifest without any pos must be filed as a nil manifest (Art. 4(9)).",
    ),
    "MAN-009": (
        "Bahasa {value} tidak diterima: manifes dalam bahasa Indonesia atau Inggris "
        "(Pasal 4 ayat 1).",
        "Language {value} is not accepted: manifests are in Indonesian or English (Art. 4(1)).",
    ),
    "MAN-010": (
        "Tidak ditemukan BC 1.0 (RKSP/JKSP) untuk {conveyance} voyage {voyage} di kantor "
        "{office} (Pasal 2 ayat 1).",
        "No BC 1.0 (RKSP/JKSP) is registered for {conveyance} voyage {voyage} at office "
        "{office} (Art. 2(1)).",
    ),
    # The file drop (gateway/channels/filedrop.py): an entry of in/ set aside unread, in error/
    "DROP-001": (
        "{name} bukan berkas biasa (tautan simbolik, pipa atau perangkat) dan tidak dibaca; "
        "letakkan berkasnya sendiri di in/.",
        "{name} is not a plain file (a symbolic link, pipe or device) and was not read; put "
        "the file itself in in/.",
    ),
    "DROP-002": (
        "{name} mempunyai lebih dari satu nama (hard link) dan tidak dibaca; letakkan salinan "
        "berkas di in/.",
        "{name} has more than one name (a hard link) and was not read; put a copy of the file "
        "in in/.",
    ),
    # Internal
    "SYS-001": (
        "Kesalahan internal gateway; dokumen disimpan dan akan diperiksa operator.",
        "Internal gateway error; the document is kept and an operator will look at it.",
    ),
    # X12 transaction sets (docs/formats/x12.md): what the pyx12 maps cannot check
    "X12-101": (
        "Transaksi X12 {set_id} tidak diterima: gateway menerima 309 (manifest) dan 323 "
        "(RKSP/JKSP).",
        "X12 transaction set {set_id} is not accepted: the gateway takes 309 (manifest) and 323 "
        "(RKSP/JKSP).",
    ),
    "X12-102": (
        "Segmen atau elemen {segment} wajib ada: {detail}.",
        "Segment or element {segment} is required: {detail}.",
    ),
    "X12-103": (
        "Nilai '{value}' pada {element} tidak sah: {detail}.",
        "The value '{value}' in {element} is not valid: {detail}.",
    ),
    "X12-104": (
        "GS03 '{value}' bukan kode kantor pabean 6 digit.",
        "GS03 '{value}' is not a 6-digit customs office code.",
    ),
    "X12-105": (
        "Rujukan {reference} tidak menunjuk ke baris sebelumnya dalam transaksi.",
        "The reference {reference} does not point to an earlier line of the transaction set.",
    ),
    "X12-106": (
        "Susunan transaksi tidak sesuai pedoman X12: {detail}.",
        "The transaction set does not follow the X12 guide: {detail}.",
    ),
    # UN/EDIFACT messages (docs/formats/edifact.md): what the message definitions cannot check
    "EDI-101": (
        "Pesan EDIFACT {message} tidak diterima: gateway menerima CUSREP (RKSP/JKSP) dan CUSCAR "
        "(manifes).",
        "EDIFACT message {message} is not accepted: the gateway takes CUSREP (RKSP/JKSP) and "
        "CUSCAR (manifest).",
    ),
    "EDI-102": (
        "Segmen atau elemen {segment} wajib ada: {detail}.",
        "Segment or element {segment} is required: {detail}.",
    ),
    "EDI-103": (
        "Nilai '{value}' pada {element} tidak sah: {detail}.",
        "The value '{value}' in {element} is not valid: {detail}.",
    ),
    "EDI-104": (
        "LOC+22 '{value}' bukan kode kantor pabean 6 digit.",
        "LOC+22 '{value}' is not a 6-digit customs office code.",
    ),
    "EDI-105": (
        "Rujukan {reference} tidak menunjuk ke data lain dalam pesan.",
        "The reference {reference} does not point to other data in the message.",
    ),
    "EDI-106": (
        "Susunan pesan tidak sesuai pedoman EDIFACT: {detail}.",
        "The message does not follow the EDIFACT guide: {detail}.",
    ),
    "EDI-107": (
        "Fungsi pesan BGM 1225 '{function}' tidak diterima: 9 (asli), 4 (perubahan) atau 5 "
        "(penggantian).",
        "Message function BGM 1225 '{function}' is not accepted: 9 (original), 4 (change) or 5 "
        "(replace).",
    ),
}


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group(0)):02X}"


def finding(
    code: str,
    *,
    severity: Severity = Severity.ERROR,
    location: Location | None = None,
    **context: object,
) -> Finding:
    """Build a finding from the catalogue, filling its templates with ``context``.

    Text from the file (a value, a tag, a path) may hold control characters: they are shown
    as ``\\xNN``, so the message stays printable and storable (PostgreSQL refuses a NUL).
    """
    template_id, template_en = CATALOGUE[code]
    context = {k: _CONTROL.sub(_escape, v) if isinstance(v, str) else v for k, v in context.items()}
    if location is not None and location.path and _CONTROL.search(location.path):
        location = dataclasses.replace(location, path=_CONTROL.sub(_escape, location.path))
    return Finding(
        code=code,
        severity=severity,
        message_id=template_id.format(**context),
        message_en=template_en.format(**context),
        location=location,
    )
