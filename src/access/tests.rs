use super::*;

fn users() -> Users {
    Users::with_connection(Connection::open_in_memory().expect("memory db")).expect("migrate")
}

#[test]
fn add_verify_grant_and_sessions() {
    let u = users();
    u.add_user("alice", Role::Reader, "correct horse")
        .expect("add");
    assert!(matches!(
        u.add_user("alice", Role::Admin, "x"),
        Err(AccessError::UserExists(_))
    ));
    assert_eq!(u.verify("alice", "wrong").expect("verify"), None);
    assert_eq!(u.verify("bob", "correct horse").expect("verify"), None);
    let alice = u
        .verify("alice", "correct horse")
        .expect("verify")
        .expect("alice");
    assert_eq!(alice.role, Role::Reader);
    assert_eq!(alice.allowed_lists(), Some(vec![]));

    u.grant("alice", &["Dev.Lists.Example.org".into()])
        .expect("grant");
    assert!(matches!(
        u.grant("bob", &[]),
        Err(AccessError::UnknownUser(_))
    ));
    let s = u.create_session("alice").expect("session");
    let live = u.session(&s.token).expect("lookup").expect("live");
    assert_eq!(live.user.lists, vec!["dev.lists.example.org".to_string()]);
    assert_eq!(live.csrf, s.csrf);
    assert_eq!(u.session("not-a-token").expect("lookup"), None);
    u.delete_session(&s.token).expect("delete");
    assert_eq!(u.session(&s.token).expect("lookup"), None);
}

#[test]
fn migrations_are_idempotent() {
    let dir = tempfile::tempdir().expect("tmp");
    Users::open(dir.path())
        .expect("first")
        .add_user("a", Role::Admin, "pw")
        .expect("add");
    let again = Users::open(dir.path()).expect("second");
    assert_eq!(again.list().expect("list").len(), 1);
}

#[test]
fn bad_names_and_roles_are_user_errors() {
    let u = users();
    let e = u.add_user("a b", Role::Reader, "pw").expect_err("space");
    assert!(e.is_user_error());
    let e = "superuser".parse::<Role>().expect_err("role");
    assert!(e.is_user_error());
}

#[test]
fn a_departure_takes_the_mailbox_from_grants_and_gives_it_to_its_readers() {
    let u = users();
    for (name, role) in [
        ("eve", Role::Reader),
        ("bob", Role::Reader),
        ("ed", Role::Editor),
        ("rita", Role::Reviewer),
    ] {
        u.add_user(name, role, "pw").expect("add");
    }
    let mailbox = "alice.mailbox.invalid".to_string();
    u.grant("eve", &[mailbox.clone(), "dev.lists.example.org".into()])
        .expect("grant");
    let lists = |n: &str| u.user(n).expect("user").expect("exists").lists;
    assert!(lists("eve").contains(&mailbox));
    // A departure in the future changes nothing yet.
    let readers = ["role:editor".to_string(), "bob".to_string()];
    let future = crate::db::now() + 86_400;
    u.record_departure(&mailbox, "alice", future, &readers, "admin")
        .expect("record");
    assert!(lists("eve").contains(&mailbox));
    assert!(!lists("bob").contains(&mailbox));
    // From the day on: only the readers, by name or by role and above.
    u.record_departure(&mailbox, "alice", crate::db::now() - 60, &readers, "admin")
        .expect("record");
    assert_eq!(lists("eve"), vec!["dev.lists.example.org".to_string()]);
    assert_eq!(lists("bob"), vec![mailbox.clone()]);
    assert_eq!(lists("ed"), vec![mailbox.clone()]);
    assert!(lists("rita").is_empty(), "a reviewer is below role:editor");
    assert!(matches!(
        u.record_departure(&mailbox, "alice", 0, &["role:legal".into()], "admin"),
        Err(AccessError::BadRole(_))
    ));
}
