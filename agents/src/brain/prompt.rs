//! How a [`BrainRequest`] becomes chat messages, and an answer becomes a decision.

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage,
};
use serde_json::Value;

use super::BrainRequest;

/// The system prompt: the personality's prefix first, then the agent's role, its
/// memories, and the answer format.
pub(super) fn system_prompt(request: &BrainRequest) -> String {
    let mut prompt = String::new();
    let prefix = request.prompt_prefix.trim();
    if !prefix.is_empty() {
        prompt.push_str(prefix);
        prompt.push_str("\n\n");
    }
    prompt.push_str(&format!(
        "You are the {agent} agent of an online business run by a swarm of AI agents. \
         You make one decision at a time. The {agent} agent's own rules have already \
         proposed a decision; keep it when it is sound, improve it when the facts or \
         past experience call for it.",
        agent = request.agent
    ));
    if !request.memories.is_empty() {
        prompt.push_str("\n\nRelevant past experiences:");
        for memory in &request.memories {
            prompt.push_str("\n- ");
            prompt.push_str(memory.trim());
        }
    }
    prompt.push_str(&format!(
        "\n\nAnswer with one JSON object only, matching: {}\nNo prose and no code fences.",
        request.shape.describe()
    ));
    prompt
}

/// The user message: what to decide, the facts, and the rules' suggestion.
pub(super) fn user_prompt(request: &BrainRequest) -> String {
    format!(
        "{instruction}\n\nFacts:\n{input}\n\nThe rules suggest:\n{proposal}",
        instruction = request.instruction.trim(),
        input = pretty(&request.input),
        proposal = pretty(&request.proposal),
    )
}

/// The first request's messages.
pub(super) fn messages(request: &BrainRequest) -> Vec<ChatCompletionRequestMessage> {
    vec![
        ChatCompletionRequestSystemMessage::from(system_prompt(request)).into(),
        ChatCompletionRequestUserMessage::from(user_prompt(request)).into(),
    ]
}

/// The repair request's messages: the conversation so far, the answer that failed, and
/// what was wrong with it.
pub(super) fn repair_messages(
    original: &[ChatCompletionRequestMessage],
    previous_answer: &str,
    problems: &[String],
) -> Vec<ChatCompletionRequestMessage> {
    let mut messages = original.to_vec();
    messages.push(ChatCompletionRequestAssistantMessage::from(previous_answer).into());
    let mut correction = String::from("Your answer cannot be used:");
    for problem in problems {
        correction.push_str("\n- ");
        correction.push_str(problem);
    }
    correction.push_str("\nReply with the corrected JSON object only.");
    messages.push(ChatCompletionRequestUserMessage::from(correction).into());
    messages
}

/// Parses a model's answer into JSON. Models often wrap JSON in a Markdown code fence
/// despite being told not to; a fence is removed rather than costing a repair call.
pub(super) fn parse_answer(content: &str) -> Result<Value, String> {
    let text = strip_code_fence(content.trim());
    if text.is_empty() {
        return Err("the answer was empty; expected one JSON object".to_string());
    }
    serde_json::from_str(text).map_err(|error| format!("the answer is not valid JSON: {error}"))
}

fn strip_code_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let Some(body) = rest.strip_suffix("```") else {
        return text;
    };
    // Drop the info string (`json`) on the opening line.
    match body.split_once('\n') {
        Some((_info, inner)) => inner.trim(),
        None => body.trim(),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn code_fences_are_removed() {
        assert_eq!(parse_answer("```json\n{\"a\": 1}\n```"), Ok(json!({"a": 1})));
        assert_eq!(parse_answer("```\n{\"a\": 1}```"), Ok(json!({"a": 1})));
        assert_eq!(parse_answer(" {\"a\": 1} "), Ok(json!({"a": 1})));
    }

    #[test]
    fn prose_is_not_json() {
        assert!(parse_answer("Sure! The price is 12.").is_err());
        assert!(parse_answer("   ").is_err());
    }
}
