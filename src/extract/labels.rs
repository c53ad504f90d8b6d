//! The header labels mail clients write above a quoted message (`From:`,
//! `Sent:`, `To:`, `Subject:`) in the languages Outlook, Gmail, GMX/web.de,
//! Thunderbird, Apple Mail and Lotus Notes are used in, and the reading of one
//! such line.

/// What a header line of a quoted message names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The sender.
    From,
    /// When it was sent.
    Date,
    /// Recipients.
    To,
    /// Copy recipients.
    Cc,
    /// The subject.
    Subject,
}

/// Labels, lowercased, without the colon, by role.
const LABELS: &[(Role, &[&str])] = &[
    (
        Role::From,
        &[
            "from",
            "von",
            "de",
            "da",
            "van",
            "от",
            "发件人",
            "發件人",
            "寄件者",
            "寄件人",
            "差出人",
            "fra",
            "från",
            "lähettäjä",
            "od",
            "feladó",
            "kimden",
            "afzender",
            "remetente",
            "보낸 사람",
            "від",
        ],
    ),
    (
        Role::Date,
        &[
            "sent",
            "date",
            "gesendet",
            "datum",
            "envoyé",
            "envoyé le",
            "enviado el",
            "enviado",
            "enviada em",
            "enviado em",
            "enviada",
            "fecha",
            "inviato",
            "data",
            "verzonden",
            "verstuurd",
            "отправлено",
            "дата",
            "发送时间",
            "發送時間",
            "寄件日期",
            "日期",
            "时间",
            "時間",
            "送信日時",
            "日付",
            "sendt",
            "skickat",
            "lähetetty",
            "wysłano",
            "wysłane",
            "odesláno",
            "elküldve",
            "gönderildi",
            "tarih",
            "보낸 날짜",
            "надіслано",
        ],
    ),
    (
        Role::To,
        &[
            "to",
            "an",
            "à",
            "a",
            "para",
            "aan",
            "кому",
            "收件人",
            "收件者",
            "宛先",
            "til",
            "till",
            "vastaanottaja",
            "do",
            "komu",
            "címzett",
            "kime",
            "destinatario",
            "받는 사람",
        ],
    ),
    (
        Role::Cc,
        &[
            "cc",
            "kopie",
            "копия",
            "抄送",
            "副本",
            "kopi",
            "kopia",
            "kopio",
            "másolat",
            "bilgi",
            "참조",
        ],
    ),
    (
        Role::Subject,
        &[
            "subject",
            "betreff",
            "objet",
            "asunto",
            "oggetto",
            "assunto",
            "onderwerp",
            "тема",
            "主题",
            "主題",
            "主旨",
            "件名",
            "emne",
            "ämne",
            "aihe",
            "temat",
            "předmět",
            "tárgy",
            "konu",
            "제목",
        ],
    ),
];

/// Longest label looked up, in bytes.
const MAX_LABEL: usize = 32;

/// If `line` is a header line (`Label: value`, `Label : value`, `Label：value`,
/// `*Label:* value`), its role and value.
pub(crate) fn label(line: &str) -> Option<(Role, &str)> {
    let t = line.trim_start();
    let (at, colon) = t
        .char_indices()
        .take_while(|(at, _)| *at <= MAX_LABEL + 4)
        .find(|(_, c)| matches!(c, ':' | '：'))?;
    let name = t[..at]
        .trim_matches(|c: char| c == '*' || c.is_whitespace())
        .to_lowercase();
    if name.is_empty() || name.len() > MAX_LABEL {
        return None;
    }
    let value = t[at + colon.len_utf8()..].trim_start_matches('*');
    LABELS
        .iter()
        .find(|(_, names)| names.contains(&name.as_str()))
        .map(|(role, _)| (*role, value))
}
