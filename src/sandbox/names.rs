//! The words synthetic records are made of, shared by every sandbox's seeding: first and last
//! names for people, and two words for a company name.

/// First names of seeded people.
pub const FIRST: [&str; 16] = [
    "Ann", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Lucas", "Maya", "Noah", "Olga", "Priya",
];
/// Last names of seeded people.
pub const LAST: [&str; 16] = [
    "Lee", "Martin", "Okafor", "Schmidt", "Rossi", "Tanaka", "Silva", "Novak", "Haddad", "Berg",
    "Kowalski", "Moreau", "Patel", "Jensen", "Costa", "Murphy",
];
/// The first word of a seeded company name.
pub const WORD: [&str; 12] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
];
/// The second word of a seeded company name.
pub const SUFFIX: [&str; 6] = ["Labs", "Systems", "Group", "Works", "Partners", "Logistics"];
