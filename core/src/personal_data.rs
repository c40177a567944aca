//! Personal data in free text: found before a note is saved, so the walker is warned and can
//! replace it (`[telefoonnummer]`) before it reaches the team.
//!
//! A note is about what a professional saw, never about whom: residents talk only while they
//! trust that nothing comes back to them. Phone numbers, e-mail addresses, IBANs, BSNs,
//! licence plates, addresses and dates of birth identify a person on their own; names often
//! do. The structured kinds are recognised by their form and, where they have one, their
//! checksum (IBAN mod 97, the BSN's eleven-test, the licence plates' side codes); names by a
//! word list of common first names and surnames and by the words around them ("mevrouw",
//! "heet"). Nothing here is a guess the walker cannot see: the shell shows what was found and
//! the walker decides.
//!
//! Hand-written scanners rather than a regular-expression engine: a few kilobytes in the phone
//! library instead of a megabyte, and linear in the text's length.

use serde::{Deserialize, Serialize};

/// What a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalDataKind {
    Phone,
    Email,
    Iban,
    Bsn,
    /// A licence plate.
    Plate,
    /// A postcode with a house number.
    Postcode,
    /// A street with a house number.
    Address,
    Birthdate,
    /// A person's name.
    Name,
}

impl PersonalDataKind {
    pub const ALL: [PersonalDataKind; 9] = [
        Self::Phone,
        Self::Email,
        Self::Iban,
        Self::Bsn,
        Self::Plate,
        Self::Postcode,
        Self::Address,
        Self::Birthdate,
        Self::Name,
    ];

    /// What replaces it in a redacted note (the team's language: notes are Dutch).
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::Phone => "[telefoonnummer]",
            Self::Email => "[e-mailadres]",
            Self::Iban => "[rekeningnummer]",
            Self::Bsn => "[BSN]",
            Self::Plate => "[kenteken]",
            Self::Postcode | Self::Address => "[adres]",
            Self::Birthdate => "[geboortedatum]",
            Self::Name => "[naam]",
        }
    }

    /// Recognised by form (and checksum), not by a word list: held to the higher standard.
    pub fn is_structured(self) -> bool {
        self != Self::Name
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Email => "email",
            Self::Iban => "iban",
            Self::Bsn => "bsn",
            Self::Plate => "plate",
            Self::Postcode => "postcode",
            Self::Address => "address",
            Self::Birthdate => "birthdate",
            Self::Name => "name",
        }
    }
}

/// One piece of personal data: its kind and where it is (byte offsets into the text, on
/// character boundaries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: PersonalDataKind,
    pub start: usize,
    pub end: usize,
}

impl Finding {
    pub fn text<'a>(&self, of: &'a str) -> &'a str {
        &of[self.start..self.end]
    }
}

/// Every piece of personal data in `text`, in order, none overlapping another.
pub fn find(text: &str) -> Vec<Finding> {
    let t = Text::new(text);
    let mut candidates: Vec<(PersonalDataKind, usize, usize)> = Vec::new();
    // In order of precedence: where two overlap, the earlier kind wins (an e-mail address
    // holds digits that are not a phone number; a phone number holds nine digits that are not
    // a BSN).
    candidates.extend(t.emails().into_iter().map(|(s, e)| (PersonalDataKind::Email, s, e)));
    candidates.extend(t.ibans().into_iter().map(|(s, e)| (PersonalDataKind::Iban, s, e)));
    candidates.extend(t.birthdates().into_iter().map(|(s, e)| (PersonalDataKind::Birthdate, s, e)));
    let addresses = t.addresses();
    candidates.extend(t.postcodes(&addresses).into_iter().map(|(s, e)| (PersonalDataKind::Postcode, s, e)));
    candidates.extend(t.phones().into_iter().map(|(s, e)| (PersonalDataKind::Phone, s, e)));
    candidates.extend(t.bsns().into_iter().map(|(s, e)| (PersonalDataKind::Bsn, s, e)));
    candidates.extend(t.plates().into_iter().map(|(s, e)| (PersonalDataKind::Plate, s, e)));
    candidates.extend(addresses.into_iter().map(|(s, e)| (PersonalDataKind::Address, s, e)));
    candidates.extend(t.names().into_iter().map(|(s, e)| (PersonalDataKind::Name, s, e)));

    let mut taken: Vec<(PersonalDataKind, usize, usize)> = Vec::new();
    for c in candidates {
        if c.1 < c.2 && !taken.iter().any(|t| c.1 < t.2 && t.1 < c.2) {
            taken.push(c);
        }
    }
    taken.sort_by_key(|c| c.1);
    taken.into_iter().map(|(kind, s, e)| Finding { kind, start: t.byte(s), end: t.byte(e) }).collect()
}

/// `text` with every finding replaced by its kind's placeholder.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.start);
    for f in sorted {
        // Findings from another text, overlapping or off boundaries: left alone, never a panic.
        if f.start < at || f.end > text.len() || !text.is_char_boundary(f.start) || !text.is_char_boundary(f.end) {
            continue;
        }
        out.push_str(&text[at..f.start]);
        out.push_str(f.kind.placeholder());
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The fuzz target's body: any bytes read as text (lossily) are scanned and redacted without a
/// panic; findings lie in order within the text and the redaction leaves none standing alone.
pub fn fuzz_find(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let found = find(&text);
    let mut at = 0;
    for f in &found {
        assert!(f.start >= at && f.start < f.end && f.end <= text.len(), "finding out of order or bounds");
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end), "finding off a boundary");
        at = f.end;
    }
    let clean = redact(&text, &found);
    // What the redaction leaves is no identifier on its own: a structured finding in it can only
    // be text next to a placeholder, which a new boundary made readable ("…78N531AB" after a
    // phone number, "67,3531AB" an amount until the postcode became "[adres]").
    let near = |s: &str| s.chars().take(2).any(|c| c == '[' || c == ']');
    let glued = |f: &Finding| near(&clean[f.end..]) || near(&clean[..f.start].chars().rev().collect::<String>());
    let left: Vec<Finding> = find(&clean).into_iter().filter(|f| f.kind.is_structured() && !glued(f)).collect();
    assert!(left.is_empty(), "structured data left after redaction: {:?} in {:?}", left, clean);
}

/// The text as characters, with their byte offsets, for scanning by character index.
struct Text {
    c: Vec<char>,
    offsets: Vec<usize>,
}

const MONTHS: &[&str] = &[
    "januari",
    "jan",
    "februari",
    "feb",
    "maart",
    "mrt",
    "april",
    "apr",
    "mei",
    "juni",
    "jun",
    "juli",
    "jul",
    "augustus",
    "aug",
    "september",
    "sep",
    "sept",
    "oktober",
    "okt",
    "november",
    "nov",
    "december",
    "dec",
];

/// Words after a house number that make it a count instead ("Kanaalstraat 3 jongens").
const COUNT_WORDS: &[&str] = &[
    "jongens", "jongeren", "meiden", "mannen", "vrouwen", "kinderen", "personen", "man", "auto", "auto's", "keer", "x",
    "uur", "min", "minuten", "jaar", "jr", "euro", "procent", "%", "scooters", "fietsen", "woningen", "panden",
];

/// Endings of Dutch street names.
const STREET_ENDINGS: &[&str] = &[
    "straat",
    "straatweg",
    "laan",
    "weg",
    "plein",
    "pleintje",
    "singel",
    "kade",
    "gracht",
    "dijk",
    "dreef",
    "hof",
    "pad",
    "park",
    "steeg",
    "markt",
    "baan",
    "ring",
    "wal",
    "dam",
    "erf",
    "oord",
    "plantsoen",
    "boulevard",
    "allee",
    "hage",
    "gaarde",
    "zijde",
    "haven",
    "poort",
    "veste",
    "burg",
    "kwartier",
    "donk",
    "horst",
    "berg",
    "veld",
];

/// Words that end like a street and are not one.
const NOT_STREETS: &[&str] =
    &["onderweg", "halfweg", "hierheen", "terug", "weg", "park", "plein", "hof", "markt", "berg"];

/// Words before a name: forms of address and roles.
const TITLES: &[&str] =
    &["mevrouw", "mevr", "mw", "mvr", "meneer", "mijnheer", "dhr", "hr", "heer", "juf", "meester", "mr", "mrs", "ms"];

/// Roles and relatives a note writes before a name ("buurvrouw Ria", "winkelier Ahmet",
/// "moeder van Selin"). Also never a name themselves ("Meisje (15)").
const ROLES: &[&str] = &[
    "buurvrouw",
    "buurman",
    "buren",
    "bewoner",
    "bewoonster",
    "buurtbewoner",
    "huurder",
    "huurster",
    "verhuurder",
    "eigenaar",
    "eigenaresse",
    "winkelier",
    "ondernemer",
    "uitbater",
    "klant",
    "jongen",
    "jongere",
    "jongeren",
    "meisje",
    "jochie",
    "man",
    "vrouw",
    "stagiair",
    "stagiaire",
    "collega",
    "casemanager",
    "leerplichtambtenaar",
    "wijkagent",
    "jongerenwerker",
    "mentor",
    "docent",
    "leraar",
    "lerares",
    "vriend",
    "vriendin",
    "vriendje",
    "vriendinnetje",
    "moeder",
    "vader",
    "ouders",
    "zoon",
    "dochter",
    "broer",
    "broertje",
    "zus",
    "zusje",
    "zuster",
    "oom",
    "tante",
    "opa",
    "oma",
    "neef",
    "nicht",
    "neefje",
    "nichtje",
    "stiefvader",
    "stiefmoeder",
    "partner",
    "ex",
    "cliënt",
    "client",
    "cliente",
    "melder",
    "getuige",
    "beheerder",
    "conciërge",
    "huismeester",
    "chauffeur",
    "bezorger",
];

/// The relatives of "Layla's moeder".
const RELATIVES: &[&str] = &[
    "moeder", "vader", "ouders", "zoon", "dochter", "broer", "broertje", "zus", "zusje", "oom", "tante", "opa", "oma",
    "neef", "nicht", "vriend", "vriendin", "vriendje", "man", "vrouw", "partner", "ex", "kinderen", "kind",
];

/// Endings of surnames common in Central and Eastern Europe and Turkey ("Popescu",
/// "Kowalski", "Petrova"), written mid-sentence.
const SURNAME_ENDINGS: &[&str] =
    &["escu", "eanu", "ski", "ska", "wicz", "czyk", "czak", "enko", "ova", "ovic", "ović", "oglu", "oğlu", "yan"];

/// Abbreviations whose full stop ends no sentence.
const ABBREVIATIONS: &[&str] = &[
    "o.a", "oa", "bv", "bijv", "ivm", "i.v.m", "mbt", "m.b.t", "tav", "t.a.v", "nr", "ca", "ong", "evt", "vlgs", "volg",
];

/// Words after which a name follows ("heet Kevin", "genaamd Rocky").
const NAME_CUES: &[&str] = &["heet", "heten", "genaamd", "bijnaam", "alias", "naam"];

/// The words between first name and surname.
const PARTICLES: &[&str] =
    &["van", "de", "der", "den", "het", "ter", "ten", "te", "la", "le", "el", "al", "ben", "bin", "da", "di", "'t"];

/// Common first names in Dutch neighbourhoods (Dutch, Moroccan, Turkish, Surinamese,
/// Antillean, Polish, Syrian, Somali, Eritrean), as a walker would write them.
const FIRST_NAMES: &[&str] = &[
    "Aaliyah",
    "Aaron",
    "Abdel",
    "Abdelaziz",
    "Abdelkader",
    "Abderrahim",
    "Abdi",
    "Abdul",
    "Abdullah",
    "Abel",
    "Achmed",
    "Adam",
    "Adil",
    "Adnan",
    "Agnieszka",
    "Ahmad",
    "Ahmed",
    "Ahmet",
    "Aicha",
    "Aisha",
    "Aklilu",
    "Aleksandra",
    "Alex",
    "Alexander",
    "Ali",
    "Alina",
    "Amal",
    "Amber",
    "Amin",
    "Amina",
    "Amir",
    "Ammar",
    "Amy",
    "Ana",
    "Anas",
    "Andrei",
    "Andrzej",
    "Anja",
    "Anjali",
    "Ank",
    "Anna",
    "Annelies",
    "Annemarie",
    "Annie",
    "Anouk",
    "Ans",
    "Anton",
    "Arjen",
    "Arjun",
    "Asha",
    "Ashwin",
    "Astrid",
    "Aya",
    "Ayhan",
    "Ayla",
    "Aylin",
    "Ayoub",
    "Ayse",
    "Aysel",
    "Badr",
    "Baris",
    "Bart",
    "Bartosz",
    "Bas",
    "Bashar",
    "Bayu",
    "Bea",
    "Bep",
    "Berat",
    "Berk",
    "Bilal",
    "Bogdan",
    "Bouchra",
    "Bram",
    "Brian",
    "Burak",
    "Can",
    "Carla",
    "Carlos",
    "Cem",
    "Chandra",
    "Chantal",
    "Chris",
    "Cor",
    "Corrie",
    "Cristian",
    "Daan",
    "Damian",
    "Daniel",
    "Danny",
    "Dave",
    "David",
    "Dawit",
    "Deniz",
    "Dennis",
    "Derya",
    "Devi",
    "Dewi",
    "Dimitar",
    "Dina",
    "Dini",
    "Dirk",
    "Dmitri",
    "Dorota",
    "Driss",
    "Dylan",
    "Ebru",
    "Ece",
    "Eden",
    "Elena",
    "Elif",
    "Elise",
    "Ella",
    "Elly",
    "Els",
    "Emir",
    "Emma",
    "Emmy",
    "Emre",
    "Engin",
    "Ercan",
    "Erdal",
    "Erik",
    "Esma",
    "Esra",
    "Esther",
    "Eva",
    "Ewa",
    "Fadi",
    "Fadoua",
    "Faisal",
    "Farid",
    "Fatih",
    "Fatima",
    "Fatma",
    "Femke",
    "Fenna",
    "Ferdi",
    "Filmon",
    "Finn",
    "Fleur",
    "Floor",
    "Fouad",
    "Frans",
    "Freek",
    "Frits",
    "Georgi",
    "Gerda",
    "Gerrit",
    "Gert",
    "Ghizlane",
    "Gianni",
    "Gijs",
    "Gijsbert",
    "Giovanni",
    "Greet",
    "Grzegorz",
    "Gül",
    "Gülsen",
    "Hadi",
    "Hafsa",
    "Hajar",
    "Hakim",
    "Hala",
    "Hamid",
    "Hamza",
    "Hanna",
    "Hanneke",
    "Hans",
    "Harm",
    "Hasan",
    "Hassan",
    "Hatice",
    "Hawa",
    "Hein",
    "Helen",
    "Henk",
    "Hennie",
    "Herman",
    "Hetty",
    "Hiba",
    "Hicham",
    "Hodan",
    "Houda",
    "Hussam",
    "Hussein",
    "Hülya",
    "Ibrahim",
    "Idil",
    "Ifrah",
    "Ikram",
    "Ilham",
    "Ilias",
    "Ilse",
    "Ilyas",
    "Imane",
    "Imran",
    "Indra",
    "Ineke",
    "Inge",
    "Ingrid",
    "Ioana",
    "Irina",
    "Iris",
    "Isa",
    "Ismail",
    "Ivan",
    "Ivana",
    "Jaap",
    "Jacqueline",
    "Jaimy",
    "Jakub",
    "Jamal",
    "Jamie",
    "Jamila",
    "Jan",
    "Jana",
    "Jannie",
    "Jasmijn",
    "Jasper",
    "Jayden",
    "Jayson",
    "Jelle",
    "Jens",
    "Jeroen",
    "Jesse",
    "Jessica",
    "Jet",
    "Jill",
    "Joanna",
    "Joep",
    "Johan",
    "John",
    "Joke",
    "Joost",
    "Jordan",
    "Jordy",
    "Joris",
    "Jos",
    "Joyce",
    "Julia",
    "Jurgen",
    "Justin",
    "Kacper",
    "Kamil",
    "Kaoutar",
    "Karel",
    "Karim",
    "Karin",
    "Katarzyna",
    "Kavita",
    "Kay",
    "Kees",
    "Kemal",
    "Kenan",
    "Kenny",
    "Kenzo",
    "Kevin",
    "Khadija",
    "Khaled",
    "Khalid",
    "Kim",
    "Klaas",
    "Koen",
    "Krzysztof",
    "Kübra",
    "Lars",
    "Latifa",
    "Laura",
    "Layla",
    "Leila",
    "Levent",
    "Levi",
    "Liam",
    "Lieke",
    "Lies",
    "Lina",
    "Lisa",
    "Lotte",
    "Loubna",
    "Luca",
    "Lucas",
    "Lukasz",
    "Luuk",
    "Maarten",
    "Magdalena",
    "Mahmoud",
    "Malika",
    "Marcin",
    "Marco",
    "Maria",
    "Mariam",
    "Marieke",
    "Marina",
    "Marja",
    "Marjan",
    "Marjolein",
    "Mark",
    "Marloes",
    "Marta",
    "Martijn",
    "Martin",
    "Mateusz",
    "Mauro",
    "Max",
    "Mehmet",
    "Melek",
    "Melissa",
    "Merel",
    "Merhawi",
    "Meryem",
    "Metin",
    "Michael",
    "Michal",
    "Michał",
    "Michiel",
    "Miep",
    "Mihai",
    "Mila",
    "Milan",
    "Mina",
    "Mirjam",
    "Mohamed",
    "Mohammad",
    "Mohammed",
    "Monika",
    "Mourad",
    "Murat",
    "Mustafa",
    "Nabil",
    "Nadia",
    "Naima",
    "Natalia",
    "Natasha",
    "Nathan",
    "Nel",
    "Nick",
    "Niels",
    "Nikolai",
    "Nina",
    "Noah",
    "Noor",
    "Nora",
    "Nordin",
    "Nour",
    "Noura",
    "Nur",
    "Oguz",
    "Olga",
    "Olivier",
    "Omar",
    "Oscar",
    "Osman",
    "Ouafa",
    "Ozan",
    "Paul",
    "Pawel",
    "Paweł",
    "Peter",
    "Petra",
    "Piet",
    "Pieter",
    "Piotr",
    "Priya",
    "Quincy",
    "Rachel",
    "Rachid",
    "Rachida",
    "Rajesh",
    "Rama",
    "Rami",
    "Rania",
    "Rasha",
    "Rashid",
    "Ravi",
    "Redouan",
    "Remco",
    "Ria",
    "Rian",
    "Ricardo",
    "Richard",
    "Rick",
    "Rico",
    "Riet",
    "Rik",
    "Rinus",
    "Rita",
    "Rob",
    "Robin",
    "Rocky",
    "Romano",
    "Romeo",
    "Ron",
    "Roos",
    "Ruben",
    "Ruud",
    "Ryan",
    "Said",
    "Saida",
    "Salah",
    "Salma",
    "Sam",
    "Samir",
    "Samira",
    "Sander",
    "Sanne",
    "Sara",
    "Sarah",
    "Saskia",
    "Selim",
    "Selin",
    "Sem",
    "Semhar",
    "Senait",
    "Senna",
    "Sergei",
    "Serkan",
    "Sevda",
    "Sevgi",
    "Shanice",
    "Shanti",
    "Shaquille",
    "Sharon",
    "Shirley",
    "Sibel",
    "Silvia",
    "Sinan",
    "Sita",
    "Sjaak",
    "Sjoerd",
    "Sofia",
    "Sophie",
    "Soufian",
    "Soufiane",
    "Stefan",
    "Stijn",
    "Sunita",
    "Sven",
    "Svetlana",
    "Tamara",
    "Tarik",
    "Tariq",
    "Tesfay",
    "Tess",
    "Teun",
    "Thijs",
    "Thomas",
    "Tim",
    "Tineke",
    "Tom",
    "Tomasz",
    "Truus",
    "Tuba",
    "Tugba",
    "Tygo",
    "Ugur",
    "Vasile",
    "Vera",
    "Volkan",
    "Warsame",
    "Wendy",
    "Willem",
    "Wilma",
    "Wim",
    "Winta",
    "Wojciech",
    "Wouter",
    "Yara",
    "Yaser",
    "Yasin",
    "Yasmin",
    "Yasmina",
    "Yassin",
    "Yassine",
    "Yfke",
    "Yohannes",
    "Yonas",
    "Yousef",
    "Youssef",
    "Youssra",
    "Yusra",
    "Yusuf",
    "Yvonne",
    "Zainab",
    "Zakaria",
    "Zara",
    "Zeynep",
    "Zineb",
    "Zoe",
    "Zohra",
    "Zoë",
    "Łukasz",
];

/// Common surnames; written after a first name, a title or a particle, or mid-sentence.
const SURNAMES: &[&str] = &[
    "Jong",
    "Jansen",
    "Janssen",
    "Vries",
    "Berg",
    "Dijk",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Boer",
    "Mulder",
    "Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Leeuwen",
    "Dekker",
    "Brouwer",
    "Wit",
    "Dijkstra",
    "Smits",
    "Graaf",
    "Meer",
    "Linden",
    "Kok",
    "Jacobs",
    "Haan",
    "Vermeulen",
    "Heuvel",
    "Veen",
    "Broek",
    "Bruijn",
    "Bruin",
    "Heijden",
    "Schouten",
    "Beek",
    "Willems",
    "Vliet",
    "Hoekstra",
    "Maas",
    "Verhoeven",
    "Koster",
    "Prins",
    "Blom",
    "Huisman",
    "Peeters",
    "Kuipers",
    "Wijk",
    "Postma",
    "Kramer",
    "Yilmaz",
    "Kaya",
    "Demir",
    "Sahin",
    "Celik",
    "Öztürk",
    "Ozturk",
    "Aydin",
    "Arslan",
    "Doğan",
    "Dogan",
    "Kılıç",
    "Kilic",
    "Benali",
    "Bouzid",
    "Amrani",
    "Haddou",
    "Ouali",
    "Tahiri",
    "Idrissi",
    "Alaoui",
    "Chaouch",
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Kowalczyk",
    "Lewandowski",
    "Pinas",
    "Doelwijt",
    "Sedney",
    "Martina",
    "Rosario",
    "Hassani",
];

impl Text {
    fn new(src: &str) -> Self {
        let mut c = Vec::with_capacity(src.len());
        let mut offsets = Vec::with_capacity(src.len() + 1);
        for (i, ch) in src.char_indices() {
            c.push(ch);
            offsets.push(i);
        }
        offsets.push(src.len());
        Text { c, offsets }
    }

    fn len(&self) -> usize {
        self.c.len()
    }

    fn byte(&self, i: usize) -> usize {
        self.offsets[i]
    }

    fn at(&self, i: usize) -> char {
        self.c.get(i).copied().unwrap_or('\0')
    }

    fn digit(&self, i: usize) -> bool {
        self.at(i).is_ascii_digit()
    }

    fn alnum(&self, i: usize) -> bool {
        self.at(i).is_alphanumeric()
    }

    /// A token may start at `i`: the character before is not a letter or digit.
    fn starts_token(&self, i: usize) -> bool {
        i == 0 || !self.c[i - 1].is_alphanumeric()
    }

    /// The word (letters, digits, ' and -) starting at `i`, and where it ends.
    fn word_at(&self, i: usize) -> (String, usize) {
        let mut j = i;
        while j < self.len()
            && (self.alnum(j) || ((self.at(j) == '\'' || self.at(j) == '-') && self.alnum(j + 1) && j > i))
        {
            j += 1;
        }
        (self.c[i..j].iter().collect(), j)
    }

    /// The start of every word, with the word.
    fn words(&self) -> Vec<(usize, usize, String)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if self.alnum(i) && self.starts_token(i) {
                let (w, end) = self.word_at(i);
                out.push((i, end, w));
                i = end.max(i + 1);
            } else {
                i += 1;
            }
        }
        out
    }

    fn skip_spaces(&self, mut i: usize) -> usize {
        while i < self.len() && self.at(i) == ' ' {
            i += 1;
        }
        i
    }

    // --- e-mail -------------------------------------------------------------------------

    fn emails(&self) -> Vec<(usize, usize)> {
        let local = |c: char| c.is_alphanumeric() || "._%+-'".contains(c);
        let domain = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
        let mut out = Vec::new();
        for i in 0..self.len() {
            if self.c[i] != '@' {
                continue;
            }
            let mut s = i;
            while s > 0 && local(self.c[s - 1]) {
                s -= 1;
            }
            while s < i && !self.c[s].is_alphanumeric() {
                s += 1;
            }
            let mut e = i + 1;
            while e < self.len() && domain(self.c[e]) {
                e += 1;
            }
            while e > i + 1 && !self.c[e - 1].is_alphanumeric() {
                e -= 1;
            }
            let host: String = self.c[i + 1..e].iter().collect();
            let tld = host.rsplit('.').next().unwrap_or("");
            if s < i && host.contains('.') && tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic) {
                out.push((s, e));
            }
        }
        out
    }

    // --- IBAN ---------------------------------------------------------------------------

    fn ibans(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i + 1 < self.len() {
            if !(self.starts_token(i) && self.at(i).is_ascii_alphabetic() && self.at(i + 1).is_ascii_alphabetic()) {
                i += 1;
                continue;
            }
            let country: String = self.c[i..i + 2].iter().map(|c| c.to_ascii_uppercase()).collect();
            let Some(length) = iban_length(&country) else {
                i += 1;
                continue;
            };
            // Gather the IBAN's characters, allowing one space between groups.
            let mut compact = String::new();
            let mut j = i;
            let mut end = i;
            while j < self.len() && compact.len() < length {
                let ch = self.at(j);
                if ch.is_ascii_alphanumeric() {
                    compact.push(ch.to_ascii_uppercase());
                    j += 1;
                    end = j;
                } else if ch == ' ' && self.at(j + 1).is_ascii_alphanumeric() && compact.len() >= 4 {
                    j += 1;
                } else {
                    break;
                }
            }
            if compact.len() == length && !self.alnum(end) && iban_valid(&compact) {
                out.push((i, end));
                i = end;
            } else {
                i += 1;
            }
        }
        out
    }

    // --- phone numbers ------------------------------------------------------------------

    /// Digits from `i` on with the separators people write between them (one space, a dash,
    /// a dot, a slash, brackets), up to `max` digits: the digits and where the last one ends.
    fn digit_run(&self, mut i: usize, max: usize) -> (String, usize) {
        let mut digits = String::new();
        let mut end = i;
        while i < self.len() && digits.len() < max {
            let ch = self.at(i);
            if ch.is_ascii_digit() {
                digits.push(ch);
                i += 1;
                end = i;
            } else if " -./()".contains(ch) && !digits.is_empty() {
                // At most two separators in a row (") ", " - " counts as one gap of three).
                let mut k = i;
                while k < self.len() && k - i < 3 && " -./()".contains(self.at(k)) {
                    k += 1;
                }
                if !self.digit(k) {
                    break;
                }
                i = k;
            } else {
                break;
            }
        }
        (digits, end)
    }

    fn phones(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.len() {
            let found = if self.starts_token(i) || self.at(i) == '+' { self.phone_at(i) } else { None };
            match found {
                Some(end) => {
                    out.push((i, end));
                    i = end;
                }
                None => i += 1,
            }
        }
        out
    }

    fn phone_at(&self, i: usize) -> Option<usize> {
        if i > 0 && (self.digit(i - 1) || self.at(i - 1) == '+') {
            return None;
        }
        let ch = self.at(i);
        // International: +31 6 12345678, +31 (0)6 …, 0031 6 …; other countries by length.
        let (intl, from) = if ch == '+' && self.digit(i + 1) {
            (true, i + 1)
        } else if ch == '0' && self.at(i + 1) == '0' && self.at(i + 2) != '0' && self.digit(i + 2) {
            (true, i + 2)
        } else {
            (false, i)
        };
        if intl {
            let (digits, end) = self.digit_run(from, 15);
            if self.digit(end) {
                return None;
            }
            // "(0)" after the country code is the trunk prefix: not dialled.
            let dialled = digits.replacen("310", "31", usize::from(digits.starts_with("310")));
            let ok = if let Some(national) = dialled.strip_prefix("31") {
                national.len() == 9 && !national.starts_with('0')
            } else {
                (10..=14).contains(&dialled.len())
            };
            return ok.then_some(end);
        }
        let start = if ch == '(' && self.at(i + 1) == '0' { i + 1 } else { i };
        if self.at(start) != '0' || !self.at(start + 1).is_ascii_digit() || self.at(start + 1) == '0' {
            return None;
        }
        // Service numbers: 0800 / 0900 / 0906 / 0909 with 4 or 7 more digits.
        let service = ["0800", "0900", "0906", "0909"].iter().any(|p| {
            let (d, _) = self.digit_run(start, 4);
            d == *p
        });
        if service {
            for len in [11, 8] {
                let (digits, end) = self.digit_run(start, len);
                if digits.len() == len && !self.digit(end) {
                    return Some(end);
                }
            }
            return None;
        }
        let (digits, end) = self.digit_run(start, 10);
        (digits.len() == 10 && !self.digit(end) && !self.decimal_follows(end)).then_some(end)
    }

    /// A decimal or thousands part follows ("0612345678,50"): an amount, not a number to call.
    fn decimal_follows(&self, end: usize) -> bool {
        (self.at(end) == ',' || self.at(end) == '.') && self.digit(end + 1)
    }

    // --- BSN ----------------------------------------------------------------------------

    fn bsns(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if !(self.digit(i) && self.starts_token(i)) || (i > 0 && "+€$-".contains(self.at(i - 1))) {
                i += 1;
                continue;
            }
            // Nine digits, together or in groups of at least two ("123.456.789", "1234 56 789").
            let mut digits = String::new();
            let mut j = i;
            let mut end = i;
            let mut group = 0;
            let mut groups_ok = true;
            while j < self.len() && digits.len() < 9 {
                let ch = self.at(j);
                if ch.is_ascii_digit() {
                    digits.push(ch);
                    group += 1;
                    j += 1;
                    end = j;
                } else if ". -".contains(ch) && self.digit(j + 1) && !digits.is_empty() {
                    groups_ok &= group >= 2;
                    group = 0;
                    j += 1;
                } else {
                    break;
                }
            }
            groups_ok &= group >= 2;
            if digits.len() == 9 && groups_ok && !self.digit(end) && !self.decimal_follows(end) && eleven_test(&digits)
            {
                out.push((i, end));
                i = end;
            } else {
                i += 1;
            }
        }
        out
    }

    // --- licence plates -----------------------------------------------------------------

    fn plates(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (s, _, _) in self.words() {
            // Groups of letters or digits joined by dashes, as far as they go.
            let mut groups: Vec<String> = Vec::new();
            let mut j = s;
            loop {
                let mut g = String::new();
                while j < self.len() && self.at(j).is_ascii_alphanumeric() {
                    g.push(self.at(j));
                    j += 1;
                }
                if g.is_empty() {
                    break;
                }
                groups.push(g);
                if self.at(j) == '-' && self.at(j + 1).is_ascii_alphanumeric() && groups.len() < 3 {
                    j += 1;
                } else {
                    break;
                }
            }
            if self.alnum(j) || (self.at(j) == '-' && self.alnum(j + 1)) {
                continue;
            }
            let ok = match groups.len() {
                3 => {
                    let shape: Vec<String> = groups.iter().map(|g| shape_of(g)).collect();
                    shape.iter().all(|g| !g.is_empty()) && SIDE_CODES.contains(&shape.join("-").as_str())
                }
                1 => {
                    let g = &groups[0];
                    let shape = shape_of_mixed(g);
                    g.len() == 6
                        && SIDE_CODES.iter().any(|c| c.replace('-', "") == shape)
                        && (g.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) || self.plate_context(s))
                        && !has_unit(g)
                }
                _ => false,
            };
            if ok {
                out.push((s, j));
            }
        }
        out
    }

    /// "kenteken", "auto" or "plaat" shortly before: a plate written without dashes.
    fn plate_context(&self, s: usize) -> bool {
        let from = s.saturating_sub(30);
        let before: String = self.c[from..s].iter().collect::<String>().to_lowercase();
        // Not a placeholder's word ("[kenteken]" of an earlier redaction).
        let before = before.rsplit(']').next().unwrap_or("");
        ["kenteken", "kent.", "auto", "plaat", "wagen", "busje", "scooter", "bmw", "audi", "mercedes"]
            .iter()
            .any(|w| before.contains(w))
    }

    // --- postcode, address --------------------------------------------------------------

    /// A house number at `i` (after optional "nr", "nummer", "no"): where it ends.
    fn house_number(&self, i: usize) -> Option<usize> {
        let mut i = self.skip_spaces(i);
        let (w, end) = if self.alnum(i) { self.word_at(i) } else { (String::new(), i) };
        let lw = w.to_lowercase();
        if ["nr", "no", "nummer", "huisnummer"].contains(&lw.as_str()) {
            i = end;
            if self.at(i) == '.' {
                i += 1;
            }
            i = self.skip_spaces(i);
        }
        if !self.digit(i) || self.at(i) == '0' {
            return None;
        }
        let mut j = i;
        while self.digit(j) && j - i < 5 {
            j += 1;
        }
        if self.digit(j) {
            return None;
        }
        // A suffix: a letter ("12a"), "-bis", "-1", "hs", "bis", "-h".
        if self.at(j).is_ascii_alphabetic() {
            let (suffix, e) = self.word_at(j);
            let s = suffix.to_lowercase();
            if s.len() == 1 || ["bis", "hs", "zw", "rd", "bg", "huis"].contains(&s.as_str()) {
                j = e;
            } else {
                return None;
            }
        } else if self.at(j) == '-' && self.alnum(j + 1) {
            let (suffix, e) = self.word_at(j + 1);
            if suffix.chars().count() <= 4 {
                j = e;
            }
        }
        if self.alnum(j) || self.decimal_follows(j) || self.at(j) == ':' && self.digit(j + 1) {
            return None;
        }
        // "Kanaalstraat 3 jongens": a count, not a house.
        let next = self.skip_spaces(j);
        if self.alnum(next) {
            let (w, _) = self.word_at(next);
            if COUNT_WORDS.contains(&w.to_lowercase().as_str()) {
                return None;
            }
        }
        if self.at(next) == '%' {
            return None;
        }
        Some(j)
    }

    /// A postcode at `i` ("3531 AB", "3531AB"): where its letters end.
    fn postcode_at(&self, i: usize) -> Option<usize> {
        if !(self.starts_token(i) && self.at(i).is_ascii_digit() && self.at(i) != '0') {
            return None;
        }
        if !(1..4).all(|k| self.digit(i + k)) || self.digit(i + 4) {
            return None;
        }
        let spaced = self.at(i + 4) == ' ';
        let l = if spaced { i + 5 } else { i + 4 };
        let (a, b) = (self.at(l), self.at(l + 1));
        if !(a.is_ascii_alphabetic() && b.is_ascii_alphabetic()) || self.alnum(l + 2) {
            return None;
        }
        // Spaced, the letters are capitals ("in 3531 op 12 maart" is no postcode).
        if spaced && !(a.is_ascii_uppercase() && b.is_ascii_uppercase()) {
            return None;
        }
        let letters: String = [a, b].iter().map(|c| c.to_ascii_uppercase()).collect();
        if ["SA", "SD", "SS"].contains(&letters.as_str()) {
            return None;
        }
        Some(l + 2)
    }

    /// Postcodes with a house number after them, and addresses followed by their postcode
    /// ("Kanaalstraat 120, 3531 CJ", one finding).
    fn postcodes(&self, addresses: &[(usize, usize)]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for i in 0..self.len() {
            let Some(end) = self.postcode_at(i) else { continue };
            let mut after = end;
            if self.at(after) == ',' {
                after += 1;
            }
            if let Some(number) = self.house_number(after) {
                out.push((i, number));
                continue;
            }
            // Right after a street and number: the whole address.
            if let Some(&(s, _)) = addresses.iter().find(|(_, e)| {
                let between: String = self.c[*e..i].iter().collect();
                between.trim_matches(|c: char| c == ',' || c == ' ').is_empty() && between.len() <= 3
            }) {
                out.push((s, end));
            }
        }
        out
    }

    fn addresses(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (s, e, w) in self.words() {
            let lw = w.to_lowercase();
            let first = w.chars().next().unwrap_or('a');
            let street = first.is_uppercase() && is_street_word(&lw);
            if !street {
                continue;
            }
            if let Some(end) = self.house_number(e) {
                out.push((s, end));
            }
        }
        out
    }

    // --- date of birth ------------------------------------------------------------------

    fn birthdates(&self) -> Vec<(usize, usize)> {
        const CUES: &[&str] = &["geboortedatum", "geboren", "geb.datum", "gebdat", "geb.", "geb", "dob", "°"];
        let lower: Vec<char> = self.c.iter().map(|c| c.to_lowercase().next().unwrap_or(*c)).collect();
        let cues: Vec<Vec<char>> = CUES.iter().map(|c| c.chars().collect()).collect();
        let mut out = Vec::new();
        for i in 0..self.len() {
            let Some(cue) = cues.iter().find(|c| lower[i..].starts_with(c)) else { continue };
            let mut j = i + cue.len();
            // A cue is a word of its own ("gebied" is no "geb").
            if (cue[0] != '°' && !self.starts_token(i)) || (cue.last() != Some(&'.') && self.alnum(j)) {
                continue;
            }
            // "geboren op", "geb:", "geboren in", "(geb. 12-03-2009)"
            for _ in 0..3 {
                j = self.skip_spaces(j);
                if self.at(j) == ':' || self.at(j) == '(' {
                    j += 1;
                    continue;
                }
                let (w, e) = if self.alnum(j) { self.word_at(j) } else { (String::new(), j) };
                if ["op", "in", "dd"].contains(&w.to_lowercase().as_str()) {
                    j = e;
                } else {
                    break;
                }
            }
            j = self.skip_spaces(j);
            if let Some(end) = self.date_at(j) {
                out.push((j, end));
            } else if cue.len() > 4 {
                // "Geboortedatum huurder: 28-01-1990", "geboren (volgens moeder) op 3 mei
                // 2008": a spelled-out cue may stand a few words before its date, in the same
                // sentence.
                let mut k = j;
                while k < self.len() && k - j < 48 && !".!?\n".contains(self.at(k)) {
                    if self.starts_token(k) && self.digit(k) {
                        if let Some(end) = self.date_at(k) {
                            out.push((k, end));
                        }
                        break;
                    }
                    k += 1;
                }
            }
        }
        out
    }

    /// A date at `i`: 12-03-2009, 12/3/09, 12.03.2009, 2009-03-12, 3 mei 2008, 3 mei '08.
    fn date_at(&self, i: usize) -> Option<usize> {
        let number = |i: usize, max: usize| {
            let mut j = i;
            while self.digit(j) && j - i < max {
                j += 1;
            }
            (j > i && !self.digit(j)).then_some(j)
        };
        if let Some(y) = number(i, 4).filter(|y| y - i == 4 && self.at(*y) == '-') {
            let m = number(y + 1, 2)?;
            if self.at(m) != '-' {
                return None;
            }
            return number(m + 1, 2);
        }
        let d = number(i, 2)?;
        let sep = self.at(d);
        if "-/.".contains(sep) {
            let m = number(d + 1, 2)?;
            if self.at(m) != sep {
                return None;
            }
            let y = number(m + 1, 4)?;
            return (y - (m + 1) == 2 || y - (m + 1) == 4).then_some(y);
        }
        let w = self.skip_spaces(d);
        let (month, e) = self.word_at(w);
        if !MONTHS.contains(&month.to_lowercase().as_str()) {
            return None;
        }
        let mut e = e;
        if self.at(e) == '.' {
            e += 1;
        }
        let y0 = self.skip_spaces(e);
        let y0 = if self.at(y0) == '\'' { y0 + 1 } else { y0 };
        let y = number(y0, 4)?;
        (y - y0 == 2 || y - y0 == 4).then_some(y)
    }

    // --- names --------------------------------------------------------------------------

    fn names(&self) -> Vec<(usize, usize)> {
        let words = self.words();
        let mut out: Vec<(usize, usize)> = Vec::new();
        let capital = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
        let sentence_start = |s: usize| {
            let mut k = s;
            while k > 0 && self.c[k - 1] == ' ' {
                k -= 1;
            }
            if k > 0 && self.c[k - 1] == '.' {
                // "o.a. Popescu", "ivm. Jansen": an abbreviation's full stop ends no sentence.
                let mut b = k - 1;
                while b > 0 && (self.c[b - 1].is_alphabetic() || self.c[b - 1] == '.') {
                    b -= 1;
                }
                let abbreviation: String = self.c[b..k - 1].iter().collect::<String>().to_lowercase();
                if ABBREVIATIONS.contains(&abbreviation.as_str()) {
                    return false;
                }
            }
            k == 0 || ".!?\n:;".contains(self.c[k - 1])
        };
        let lower = |k: usize| words[k].2.to_lowercase();
        let adjacent = |a: usize, b: usize| self.only_spaces_between(words[a].1, words[b].0);
        // A capitalised word that can be a name: not a role, title or street ("Bewoner
        // Kanaalstraat" names no one).
        let nameable = |k: usize| {
            let lw = lower(k);
            capital(&words[k].2)
                && !ROLES.contains(&lw.as_str())
                && !TITLES.contains(&lw.as_str())
                && !is_street_word(&lw)
                && !words[k].2.chars().any(|c| c.is_ascii_digit())
        };
        // A run of capitalised words and particles that ends in a street ("Marco Pololaan",
        // "Jan van Scorelstraat", "Prins Hendriklaan"): where, not who. The street's index.
        // After a role, "van" is where the person is from ("bewoonster Joke van Trumanlaan 71"),
        // so the run stops there.
        let street_from = |k: usize, after_role: bool| {
            let mut j = k;
            while j < words.len() && j - k < 4 && (j == k || adjacent(j - 1, j)) {
                let lw = lower(j);
                if after_role && lw == "van" {
                    return None;
                }
                if is_street_word(&lw) && capital(&words[j].2) {
                    return Some(j);
                }
                if !capital(&words[j].2) && !PARTICLES.contains(&lw.as_str()) {
                    return None;
                }
                j += 1;
            }
            None
        };
        // Between a cue and its name only spaces, a title's full stop ("mevr. Jansen") or a
        // colon after a naming word ("naam: Kevin"); never the end of a sentence.
        let cue_reaches = |k: usize, j: usize| {
            let between: String = self.c[words[k].1..words[j].0].iter().collect();
            let t = between.trim();
            t.is_empty()
                || (t == "." && TITLES.contains(&lower(k).as_str()))
                || (t == ":" && NAME_CUES.contains(&lower(k).as_str()))
        };
        let mut k = 0;
        while k < words.len() {
            let (s, e, w) = &words[k];
            let lw = w.to_lowercase();
            let cue = TITLES.contains(&lw.as_str()) || NAME_CUES.contains(&lw.as_str());
            let role = ROLES.contains(&lw.as_str());
            let first = FIRST_NAMES.contains(&w.as_str());
            let surname = !sentence_start(*s)
                && (SURNAMES.contains(&w.as_str())
                    || (capital(w) && SURNAME_ENDINGS.iter().any(|end| lw.ends_with(end) && lw.len() > end.len() + 2)));
            let title = TITLES.contains(&lw.as_str());
            if !title && !role && capital(w) {
                if let Some(st) = street_from(k, false) {
                    k = st + 1;
                    continue;
                }
            }
            if cue || role {
                // The name after it: particles, then one or two capitalised words. After a role
                // ("moeder van Selin", "ouders Hamid en Nadia") the "van" is not the name's, and
                // "en" joins two names.
                let mut j = k + 1;
                if role && j < words.len() && lower(j) == "van" && adjacent(k, j) {
                    j += 1;
                }
                let mut found_any = false;
                let reaches =
                    j < words.len() && cue_reaches(j.saturating_sub(1).max(k), j) && street_from(j, role).is_none();
                while reaches && j < words.len() {
                    let begin = j;
                    if cue {
                        while j < words.len() && PARTICLES.contains(&lower(j).as_str()) && j - begin < 3 {
                            j += 1;
                        }
                    }
                    let mut last = None;
                    while j < words.len() && nameable(j) && (j == begin || adjacent(j - 1, j)) && j - begin < 4 {
                        last = Some(j);
                        j += 1;
                    }
                    let Some(l) = last else { break };
                    if begin < words.len() {
                        out.push((words[begin].0, self.without_possessive(words[l].1)));
                    }
                    found_any = true;
                    k = l + 1;
                    if role && j + 1 < words.len() && lower(j) == "en" && nameable(j + 1) {
                        j += 1;
                        continue;
                    }
                    break;
                }
                if !found_any {
                    k += 1;
                }
                continue;
            }
            if first
                || surname
                || (self.before_birth_or_age(*e) && nameable(k))
                || self.possessive_of_relative(&words, k)
            {
                // A first name with what follows it: particles and a capitalised surname (not a
                // street: "Marco Pololaan" is where, not who).
                let mut end = self.without_possessive(*e);
                let mut j = k + 1;
                let mut particles = 0;
                while j < words.len() && PARTICLES.contains(&lower(j).as_str()) && particles < 3 && adjacent(j - 1, j) {
                    particles += 1;
                    j += 1;
                }
                if j < words.len() && nameable(j) && adjacent(j - 1, j) && end == *e {
                    end = self.without_possessive(words[j].1);
                    k = j + 1;
                } else {
                    k += 1;
                }
                // A surname keeps its particles before it ("de Vries").
                let mut start = *s;
                if surname && !first {
                    let mut b = k.saturating_sub(1);
                    while b > 0 && PARTICLES.contains(&lower(b - 1).as_str()) && adjacent(b - 1, b) {
                        b -= 1;
                        start = words[b].0;
                    }
                }
                out.push((start, end));
                continue;
            }
            k += 1;
        }
        out
    }

    /// Where a word ends without its possessive "'s" ("Layla's moeder": the name is "Layla").
    fn without_possessive(&self, end: usize) -> usize {
        if end >= 2 && self.c[end - 2] == '\'' && self.c[end - 1] == 's' {
            end - 2
        } else {
            end
        }
    }

    /// A possessive before a relative: "Layla's moeder", "Yara's broer".
    fn possessive_of_relative(&self, words: &[(usize, usize, String)], k: usize) -> bool {
        let w = &words[k].2;
        w.chars().next().is_some_and(char::is_uppercase)
            && w.ends_with("'s")
            && words.get(k + 1).is_some_and(|n| RELATIVES.contains(&n.2.to_lowercase().as_str()))
    }

    /// After the word ending at `i`, a date of birth or an age follows: "Ricardo, geboren",
    /// "Aylin, geb.", "(Agnieszka, ong. 30)", "Jasmijn (15)", "Tom, 14 jr".
    fn before_birth_or_age(&self, i: usize) -> bool {
        let mut j = self.skip_spaces(i);
        if self.at(j) == ',' || self.at(j) == '(' {
            j = self.skip_spaces(j + 1);
        }
        let (mut w, mut e) = if self.alnum(j) { self.word_at(j) } else { (String::new(), j) };
        if ["is", "werd"].contains(&w.as_str()) {
            let n = self.skip_spaces(e);
            (w, e) = if self.alnum(n) { self.word_at(n) } else { (String::new(), n) };
        }
        let lw = w.to_lowercase();
        if ["geb", "geboren", "geboortedatum"].contains(&lw.as_str()) {
            return true;
        }
        let (w, e) = if lw == "ong" || lw == "ca" {
            let j = self.skip_spaces(if self.at(e) == '.' { e + 1 } else { e });
            if self.alnum(j) {
                self.word_at(j)
            } else {
                return false;
            }
        } else {
            (w, e)
        };
        if w.is_empty() || w.len() > 2 || !w.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
        let after = self.skip_spaces(e);
        let (unit, _) = if self.alnum(after) { self.word_at(after) } else { (String::new(), after) };
        self.at(e) == ')' || ["jr", "jaar", "jarig"].contains(&unit.to_lowercase().as_str())
    }

    fn only_spaces_between(&self, a: usize, b: usize) -> bool {
        a <= b && self.c[a..b].iter().all(|c| *c == ' ')
    }
}

/// The side codes of Dutch licence plates (L a letter, D a digit), 1 to 14.
const SIDE_CODES: &[&str] = &[
    "LL-DD-DD", "DD-DD-LL", "DD-LL-DD", "LL-DD-LL", "LL-LL-DD", "DD-LL-LL", "DD-LLL-D", "D-LLL-DD", "LL-DDD-L",
    "L-DDD-LL", "LLL-DD-L", "L-DD-LLL", "D-LL-DDD", "DDD-LL-D",
];

/// A word that names a street ("Pololaan", "Amsterdamsestraatweg"), lower-case.
fn is_street_word(lw: &str) -> bool {
    !NOT_STREETS.contains(&lw)
        && STREET_ENDINGS.iter().any(|end| lw.ends_with(end) && lw.chars().count() > end.len() + 2)
}

/// "LL" for letters, "DD" for digits; empty when a group mixes them.
fn shape_of(g: &str) -> String {
    if g.chars().all(|c| c.is_ascii_alphabetic()) {
        "L".repeat(g.len())
    } else if g.chars().all(|c| c.is_ascii_digit()) {
        "D".repeat(g.len())
    } else {
        String::new()
    }
}

fn shape_of_mixed(g: &str) -> String {
    g.chars().map(|c| if c.is_ascii_digit() { 'D' } else { 'L' }).collect()
}

/// A number with a unit ("1000km", "14jaar", "250gram"): not a plate.
fn has_unit(g: &str) -> bool {
    let letters: String = g.chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>().to_lowercase();
    ["km", "kg", "ml", "cm", "mm", "uur", "jaar", "gram", "min", "sec", "cc", "pk", "kwh"].contains(&letters.as_str())
}

fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "NL" => 18,
        "BE" => 16,
        "DE" => 22,
        "FR" => 27,
        "ES" => 24,
        "IT" => 27,
        "PL" => 28,
        "RO" => 24,
        "BG" => 22,
        "GB" => 22,
        "TR" => 26,
        "PT" => 25,
        "LU" => 20,
        _ => return None,
    })
}

/// The IBAN check (ISO 13616): the four first characters moved to the end, letters as 10–35,
/// the number modulo 97 is 1. A Dutch IBAN also has a bank code of four letters.
fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() < 5 || !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
        return false;
    }
    if iban.starts_with("NL") && !(b[4..8].iter().all(u8::is_ascii_alphabetic) && b[8..].iter().all(u8::is_ascii_digit))
    {
        return false;
    }
    let mut rest: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        rest = if v >= 10 { (rest * 100 + v) % 97 } else { (rest * 10 + v) % 97 };
    }
    rest == 1
}

/// The BSN's eleven-test: 9·d1 + 8·d2 + … + 2·d8 − d9 is a multiple of 11 (and not zero).
fn eleven_test(digits: &str) -> bool {
    let d: Vec<i64> = digits.bytes().map(|b| i64::from(b - b'0')).collect();
    if d.len() != 9 || d.iter().all(|x| *x == d[0]) {
        return false;
    }
    let sum: i64 = d[..8].iter().enumerate().map(|(i, x)| (9 - i as i64) * x).sum::<i64>() - d[8];
    sum != 0 && sum % 11 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PersonalDataKind, &str)> {
        find(text).into_iter().map(|f| (f.kind, f.text(text))).collect()
    }

    #[test]
    fn each_kind_in_a_note() {
        use PersonalDataKind::*;
        assert_eq!(
            kinds("Bel haar op 06-12345678 of 030 123 45 67"),
            [(Phone, "06-12345678"), (Phone, "030 123 45 67")]
        );
        assert_eq!(
            kinds("+31 6 12345678 en +31 (0)30 1234567"),
            [(Phone, "+31 6 12345678"), (Phone, "+31 (0)30 1234567")]
        );
        assert_eq!(kinds("mail: k.devries@example.nl."), [(Email, "k.devries@example.nl")]);
        assert_eq!(kinds("rekening NL91 ABNA 0417 1643 00 gezien"), [(Iban, "NL91 ABNA 0417 1643 00")]);
        assert_eq!(kinds("NL91ABNA0417164301"), [], "a wrong checksum is not an IBAN");
        assert_eq!(kinds("BSN 111222333"), [(Bsn, "111222333")]);
        assert_eq!(kinds("BSN 111222334"), [], "fails the eleven-test");
        assert_eq!(kinds("auto met kenteken 12-ABC-3 en XX-99-XX"), [(Plate, "12-ABC-3"), (Plate, "XX-99-XX")]);
        assert_eq!(kinds("kenteken 12abc3"), [(Plate, "12abc3")]);
        assert_eq!(kinds("woont op 3531 AB 12"), [(Postcode, "3531 AB 12")]);
        assert_eq!(kinds("Kanaalstraat 120, 3531 CJ"), [(Postcode, "Kanaalstraat 120, 3531 CJ")]);
        assert_eq!(kinds("bij Amsterdamsestraatweg 345a"), [(Address, "Amsterdamsestraatweg 345a")]);
        assert_eq!(kinds("geb. 12-03-2009, woont bij oma"), [(Birthdate, "12-03-2009")]);
        assert_eq!(kinds("geboren op 3 mei 2008"), [(Birthdate, "3 mei 2008")]);
        assert_eq!(kinds("sprak met mevr. Jansen"), [(Name, "Jansen")]);
        assert_eq!(kinds("Kevin de Vries stond er weer"), [(Name, "Kevin de Vries")]);
        assert_eq!(kinds("geb 2009-07-30"), [(Birthdate, "2009-07-30")]);
        assert_eq!(kinds("Geboortedatum huurder: 28-01-1990."), [(Birthdate, "28-01-1990")]);
        assert_eq!(kinds("Buurvrouw Wanda belde"), [(Name, "Wanda")], "after a role");
        assert_eq!(kinds("moeder van Wanda"), [(Name, "Wanda")], "the van is not hers");
        assert_eq!(kinds("ouders Hamid en Nadia"), [(Name, "Hamid"), (Name, "Nadia")]);
        assert_eq!(kinds("Wanda's moeder belde"), [(Name, "Wanda")]);
        assert_eq!(kinds("Zegt dat Wanda, geb. 3 mei 2008, weg is"), [(Name, "Wanda"), (Birthdate, "3 mei 2008")]);
        assert_eq!(kinds("vrouw (Wanda, ong. 30)"), [(Name, "Wanda")]);
        assert_eq!(kinds("post voor o.a. Dragomirescu"), [(Name, "Dragomirescu")]);
        assert_eq!(kinds("bewoonster Joke van Trumanlaan 71"), [(Name, "Joke"), (Address, "Trumanlaan 71")]);
    }

    #[test]
    fn what_only_looks_like_personal_data() {
        for text in [
            "om 21.30 weer langs, 22:15 weg",
            "€ 50 gezien, 14 jr oud, lijn 12",
            "Kanaalstraat 3 jongens op scooters",
            "in 3531 op 12 maart",
            "sinds 01-10-2026 leeg",
            "1000km gereden, 14jaar",
            "om 06 uur open",
            "Pools kenteken",
            "bij nr 12",
            "Overvecht-Noord, 20% leegstand",
            "bij de snackbar aan de Marco Pololaan.",
            "Jan van Scorelstraat: post voor 14 namen",
            "Bewoner Pahud de Mortangesdreef klaagt",
            "met de conciërge. Rond 16.00 weg",
            "Meisje (15) en jongen van 14 jr",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
    }

    #[test]
    fn redaction_puts_placeholders() {
        let t = "Bel 06-12345678, mail a@b.nl";
        assert_eq!(redact(t, &find(t)), "Bel [telefoonnummer], mail [e-mailadres]");
        // Findings of another text are left alone, never a panic.
        let other = [Finding { kind: PersonalDataKind::Name, start: 2, end: 400 }];
        assert_eq!(redact("één", &other), "één");
    }
}
