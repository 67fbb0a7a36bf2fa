//! Per-ostype guest commands, as data: adding an ostype is one table row.
//!
//! Each row says how packages are installed (one command per cloud-config
//! file, all its packages, decision D14), how users are added, whether new
//! accounts need a password entry to be usable over ssh, and how the
//! timezone is set. The argv built from a row never goes through a shell.

use crate::cloudconfig::parse::User;

/// How an ostype adds users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStyle {
    /// busybox `adduser -D` (alpine).
    Busybox,
    /// Debian's `adduser --disabled-password` (debian, ubuntu).
    Debian,
    /// The ostype cannot add users.
    None,
}

/// How an ostype sets the timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TzStyle {
    /// This command with the zone appended (alpine: `setup-timezone -z`).
    Command(&'static [&'static str]),
    /// Link /etc/localtime to /usr/share/zoneinfo/TZ and write /etc/timezone.
    Zoneinfo,
    None,
}

#[derive(Debug, Clone, Copy)]
pub struct OsType {
    pub name: &'static str,
    /// The install command; the packages are appended.
    pub install: &'static [&'static str],
    /// Environment for the install command.
    pub install_env: &'static [&'static str],
    pub users: UserStyle,
    /// New users get `name:*` through `set_password` so key-based ssh works.
    pub unlock_password: bool,
    /// Reads `name:hash` lines on stdin and sets those password hashes.
    pub set_password: &'static [&'static str],
    /// Adds a user to a group; the user and the group are appended.
    pub add_to_group: &'static [&'static str],
    pub timezone: TzStyle,
}

pub const OSTYPES: &[OsType] = &[
    OsType {
        name: "alpine",
        install: &["apk", "add"],
        install_env: &[],
        users: UserStyle::Busybox,
        unlock_password: true,
        set_password: &["chpasswd", "-e"],
        add_to_group: &["adduser"],
        timezone: TzStyle::Command(&["setup-timezone", "-z"]),
    },
    OsType {
        name: "debian",
        install: &["apt-get", "-y", "install"],
        install_env: &["DEBIAN_FRONTEND=noninteractive"],
        users: UserStyle::Debian,
        unlock_password: false,
        set_password: &["chpasswd", "-e"],
        add_to_group: &["adduser"],
        timezone: TzStyle::Zoneinfo,
    },
    OsType {
        name: "openwrt",
        install: &["opkg", "install"],
        install_env: &[],
        users: UserStyle::None,
        unlock_password: false,
        set_password: &[],
        add_to_group: &[],
        timezone: TzStyle::None,
    },
    OsType {
        name: "ubuntu",
        install: &["apt-get", "-y", "install"],
        install_env: &["DEBIAN_FRONTEND=noninteractive"],
        users: UserStyle::Debian,
        unlock_password: false,
        set_password: &["chpasswd", "-e"],
        add_to_group: &["adduser"],
        timezone: TzStyle::Zoneinfo,
    },
];

pub fn find(name: &str) -> Option<&'static OsType> {
    OSTYPES.iter().find(|o| o.name == name)
}

/// The ostype names, in table order.
pub fn names() -> Vec<&'static str> {
    OSTYPES.iter().map(|o| o.name).collect()
}

impl OsType {
    /// The argv that adds `u`, or `None` when the ostype cannot add users.
    pub fn add_user(&self, u: &User) -> Option<Vec<String>> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |x: &str| a.push(x.to_string());
        match self.users {
            UserStyle::None => return None,
            UserStyle::Busybox => {
                push("adduser");
                push("-g");
                push(u.gecos.as_deref().unwrap_or(""));
                push("-D");
                if let Some(uid) = &u.uid {
                    push("-u");
                    push(uid);
                }
                if let Some(s) = &u.shell {
                    push("-s");
                    push(s);
                }
                if u.no_create_home {
                    push("-H");
                } else if let Some(h) = &u.homedir {
                    push("-h");
                    push(h);
                }
                if let Some(g) = &u.primary_group {
                    push("-G");
                    push(g);
                }
                push(&u.name);
            }
            UserStyle::Debian => {
                push("adduser");
                push("--disabled-password");
                push("--gecos");
                push(u.gecos.as_deref().unwrap_or(""));
                if let Some(uid) = &u.uid {
                    push("--uid");
                    push(uid);
                }
                if let Some(s) = &u.shell {
                    push("--shell");
                    push(s);
                }
                if u.no_create_home {
                    push("--no-create-home");
                } else if let Some(h) = &u.homedir {
                    push("--home");
                    push(h);
                }
                if let Some(g) = &u.primary_group {
                    push("--ingroup");
                    push(g);
                }
                push(&u.name);
            }
        }
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpine_and_debian_users() {
        let u = User {
            name: "u".into(),
            uid: Some("1001".into()),
            shell: Some("/bin/bash".into()),
            homedir: Some("/srv/u".into()),
            gecos: Some("U".into()),
            ..Default::default()
        };
        assert_eq!(
            find("debian").unwrap().add_user(&u).unwrap().join(" "),
            "adduser --disabled-password --gecos U --uid 1001 --shell /bin/bash --home /srv/u u"
        );
        let nohome = User {
            name: "u".into(),
            homedir: Some("/srv/u".into()),
            no_create_home: true,
            ..Default::default()
        };
        assert_eq!(find("alpine").unwrap().add_user(&nohome).unwrap().join(" "), "adduser -g  -D -H u");
        assert!(find("openwrt").unwrap().add_user(&nohome).is_none());
    }
}
