//! The table's stream, read for notifications: which records the notify function is invoked
//! for (the event filter, [`STREAM_FILTERS`], which template.yaml states and the local gateway's
//! stream reader applies), and what each of them means ([`change_of`]).

use aws_lambda_events::event::dynamodb::EventRecord;
use serde_dynamo::AttributeValue as Sv;

use super::codec::{
    BADGE_CAUSE, BADGE_CAUSE_SETTINGS, BADGE_DUE, CHANGED, CHANGE_BY, CHANGE_KIND, CHANGE_KIND_PIN,
    CHANGE_KIND_REACTION, CHANGE_REACTION, MEMBER_OF,
};
use crate::error::StoreError;
use crate::ids::MessageId;
use crate::notifications::decision::Change;

/// Lambda event-filter patterns (one JSON document each; Lambda takes five) for the notify
/// function: a message id filled, a message edited, deleted, reacted to, pinned or unpinned
/// (marked `changed_at`: a reply counted on its parent is none of these); a member added to a conversation or gone from it; a
/// membership whose badge changed (a read, a settings change); a conversation renamed, given an
/// icon or another owner (its `CHANGED` item). Socket records, TTL deletes, sends' own updates and
/// everything else never invoke it.
pub const STREAM_FILTERS: [&str; 5] = [
    r#"{"eventName":["INSERT"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"CONV#"}]},"sk":{"S":[{"prefix":"MSG#"}]}}}}"#,
    r#"{"eventName":["MODIFY"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"CONV#"}]},"sk":{"S":[{"prefix":"MSG#"}]}},"NewImage":{"changed_at":{"N":[{"exists":true}]}}}}"#,
    r#"{"eventName":["INSERT","REMOVE"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"CONV#"}]},"sk":{"S":[{"prefix":"MEMBER#"}]}}}}"#,
    r#"{"eventName":["MODIFY"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"USER#"}]},"sk":{"S":[{"prefix":"MEMBER#"}]}},"NewImage":{"badge_due":{"N":[{"exists":true}]}}}}"#,
    r#"{"eventName":["INSERT","MODIFY"],"dynamodb":{"Keys":{"pk":{"S":[{"prefix":"CONV#"}]},"sk":{"S":["CHANGED"]}}}}"#,
];

fn string<'a>(item: &'a serde_dynamo::Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(Sv::S(value)) => Some(value),
        _ => None,
    }
}

fn malformed(record: &EventRecord, what: &str) -> StoreError {
    StoreError::internal(format!("stream record {}: {what}", record.event_id))
}

/// What a record the filters let through means for notifications (`None`: nothing, for a record
/// they would not have let through); a record that names no item of ours in a form we wrote is
/// an error, for the caller to report as failed.
pub fn change_of(record: &EventRecord) -> Result<Option<Change>, StoreError> {
    let keys = &record.change.keys;
    let (Some(pk), Some(sk)) = (string(keys, "pk"), string(keys, "sk")) else {
        return Err(malformed(record, "no pk or sk"));
    };
    let event = record.event_name.as_str();
    if let Some(conversation) = pk.strip_prefix("CONV#") {
        if let Some(id) = sk.strip_prefix("MSG#") {
            let id: i64 = id.parse().map_err(|_| malformed(record, "a message key without an id"))?;
            let (conversation_id, id) = (conversation.into(), MessageId::new(id));
            return Ok(match event {
                "INSERT" => Some(Change::Message { conversation_id, id }),
                // A reaction's or a pin's write says so on the message it marks.
                "MODIFY" => {
                    let image = &record.change.new_image;
                    let by = string(image, CHANGE_BY).map(str::to_owned);
                    match (string(image, CHANGE_KIND), by, string(image, CHANGE_REACTION)) {
                        (Some(CHANGE_KIND_REACTION), Some(username), Some(reaction)) => {
                            Some(Change::Reacted { conversation_id, id, username, reaction: reaction.to_owned() })
                        }
                        (Some(CHANGE_KIND_PIN), Some(username), _) => {
                            Some(Change::Pinned { conversation_id, id, username })
                        }
                        (Some(_), ..) => return Err(malformed(record, "a message change of no known kind")),
                        _ => Some(Change::MessageChanged { conversation_id, id }),
                    }
                }
                _ => None,
            });
        }
        if sk == CHANGED {
            return Ok(matches!(event, "INSERT" | "MODIFY")
                .then(|| Change::ConversationChanged { conversation_id: conversation.into() }));
        }
        if let Some(username) = sk.strip_prefix(MEMBER_OF) {
            if event == "REMOVE" {
                let (conversation_id, username) = (conversation.into(), username.to_owned());
                return Ok(Some(Change::MemberRemoved { conversation_id, username }));
            }
            if event != "INSERT" {
                return Ok(None);
            }
            let by = string(&record.change.new_image, "added_by").map(str::to_owned);
            let joined_at = match record.change.new_image.get("joined_at") {
                Some(Sv::N(n)) => n.parse().unwrap_or(0),
                _ => 0,
            };
            return Ok(Some(Change::MemberAdded {
                conversation_id: conversation.into(),
                username: username.to_owned(),
                by,
                joined_at,
            }));
        }
    }
    if let (Some(username), Some(conversation)) = (pk.strip_prefix("USER#"), sk.strip_prefix("MEMBER#")) {
        if event == "MODIFY" && record.change.new_image.contains_key(BADGE_DUE) {
            let settings = string(&record.change.new_image, BADGE_CAUSE) == Some(BADGE_CAUSE_SETTINGS);
            return Ok(Some(Change::Read {
                username: username.to_owned(),
                conversation_id: conversation.into(),
                settings,
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event: &str, pk: &str, sk: &str, image: serde_json::Value) -> EventRecord {
        serde_json::from_value(serde_json::json!({
            "eventID": "1",
            "eventName": event,
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
                "NewImage": image,
                "SequenceNumber": "100",
                "SizeBytes": 10,
                "StreamViewType": "NEW_IMAGE"
            }
        }))
        .unwrap()
    }

    #[test]
    fn records_become_changes() {
        let message = record("INSERT", "CONV#c1", "MSG#00000000000000000007", serde_json::json!({}));
        assert_eq!(
            change_of(&message).unwrap(),
            Some(Change::Message { conversation_id: "c1".into(), id: MessageId::new(7) })
        );
        let added = record("INSERT", "CONV#c1", "MEMBER#bob", serde_json::json!({"added_by": {"S": "ann"}}));
        assert_eq!(
            change_of(&added).unwrap(),
            Some(Change::MemberAdded {
                conversation_id: "c1".into(),
                username: "bob".into(),
                by: Some("ann".into()),
                joined_at: 0
            })
        );
        let read = record("MODIFY", "USER#bob", "MEMBER#c1", serde_json::json!({"badge_due": {"N": "5"}}));
        assert_eq!(
            change_of(&read).unwrap(),
            Some(Change::Read { username: "bob".into(), conversation_id: "c1".into(), settings: false })
        );
        // A send's own-counter update clears badge_due: no badge update for it.
        let sent = record("MODIFY", "USER#bob", "MEMBER#c1", serde_json::json!({"own_after_read": {"N": "1"}}));
        assert_eq!(change_of(&sent).unwrap(), None);
        let settings = record(
            "MODIFY",
            "USER#bob",
            "MEMBER#c1",
            serde_json::json!({"badge_due": {"N": "1"}, "badge_cause": {"S": "settings"}}),
        );
        assert_eq!(
            change_of(&settings).unwrap(),
            Some(Change::Read { username: "bob".into(), conversation_id: "c1".into(), settings: true })
        );
        let edit = record("MODIFY", "CONV#c1", "MSG#00000000000000000007", serde_json::json!({}));
        assert_eq!(
            change_of(&edit).unwrap(),
            Some(Change::MessageChanged { conversation_id: "c1".into(), id: MessageId::new(7) })
        );
        let reacted = record(
            "MODIFY",
            "CONV#c1",
            "MSG#00000000000000000007",
            serde_json::json!({"change_kind": {"S": "reaction"}, "change_by": {"S": "bob"}, "change_reaction": {"S": "👍"}}),
        );
        assert_eq!(
            change_of(&reacted).unwrap(),
            Some(Change::Reacted {
                conversation_id: "c1".into(),
                id: MessageId::new(7),
                username: "bob".into(),
                reaction: "👍".into()
            })
        );
        let pinned = record(
            "MODIFY",
            "CONV#c1",
            "MSG#00000000000000000007",
            serde_json::json!({"change_kind": {"S": "pin"}, "change_by": {"S": "ann"}}),
        );
        assert_eq!(
            change_of(&pinned).unwrap(),
            Some(Change::Pinned { conversation_id: "c1".into(), id: MessageId::new(7), username: "ann".into() })
        );
        let left = record("REMOVE", "CONV#c1", "MEMBER#bob", serde_json::json!({}));
        assert_eq!(
            change_of(&left).unwrap(),
            Some(Change::MemberRemoved { conversation_id: "c1".into(), username: "bob".into() })
        );
        let renamed = record("MODIFY", "CONV#c1", "CHANGED", serde_json::json!({}));
        assert_eq!(change_of(&renamed).unwrap(), Some(Change::ConversationChanged { conversation_id: "c1".into() }));
        let socket = record("INSERT", "CONV#c1", "CONN#abc", serde_json::json!({}));
        assert_eq!(change_of(&socket).unwrap(), None);
        let poison = record("INSERT", "CONV#c1", "MSG#/poison", serde_json::json!({}));
        assert!(change_of(&poison).is_err());
    }
}
