package catalog

// The keys of the catalogue. Placeholders in braces are filled by T.
const (
	// Welcome is posted in a new chat room; {commands} is the command list.
	Welcome Key = "welcome"
	// EntryPointer is posted in the entry room after onboarding.
	EntryPointer Key = "entry_pointer"
	// Reinvited answers a returning user in the entry room (PRODUCT R1.3).
	Reinvited  Key = "reinvited"
	HelpHeader Key = "help_header"
	HelpHelp   Key = "help_help"
	HelpYes    Key = "help_yes"
	HelpNo     Key = "help_no"
	// NothingToConfirm answers !yes or !no when the agent asked nothing.
	NothingToConfirm Key = "nothing_to_confirm"
	UnknownCmd       Key = "unknown_command"
	QueueFull        Key = "queue_full"
	Incomplete       Key = "incomplete"
	EmptyReply       Key = "empty_reply"
	// Undelivered: part of a reply could not be posted or updated in Matrix.
	Undelivered Key = "undelivered"
	TurnCrashed Key = "turn_crashed"
	// Restarted tells the user a turn was cut off by a bot restart (PRODUCT R7.2).
	Restarted Key = "restarted"
	// StopCut tells the user the bot is stopping and had to cut their reply
	// (PRODUCT R8.4).
	StopCut Key = "stop_cut"
	// StoreFailing tells the user the bot cannot save the chat's state
	// right now: what they sent is kept and answered, a little later.
	StoreFailing Key = "store_failing"
	// MessagesSkipped: the bot was away so long that it could not read
	// every message sent meanwhile (PRODUCT R7.2).
	MessagesSkipped   Key = "messages_skipped"
	AgentUnavailable  Key = "agent_unavailable"
	AgentTimeout      Key = "agent_timeout"
	AgentProtocol     Key = "agent_protocol"
	AgentDisconnected Key = "agent_disconnected"
	AgentReported     Key = "agent_reported"
	AgentFailed       Key = "agent_failed"
	AccessDenied      Key = "access_denied"
	DefaultAgent      Key = "default_agent"
	OnboardingFailed  Key = "onboarding_failed"
	ConfirmRequest    Key = "confirm_request"
	FileRefused       Key = "file_refused"
	// EncryptedNotSupported answers an encrypted message in a chat room.
	EncryptedNotSupported Key = "encrypted_not_supported"
	// Undecryptable answers an encrypted message whose keys never came.
	Undecryptable Key = "undecryptable"
	// DeviceChanged tells the users of encrypted rooms that the bot's
	// device (and its keys) changed, e.g. after a lost state directory.
	DeviceChanged    Key = "device_changed"
	ProgressTool     Key = "progress_tool"
	ProgressToolDone Key = "progress_tool_done"
	ProgressWorking  Key = "progress_working"
	SpaceName        Key = "space_name"
	ChatName         Key = "chat_name"

	// Workspace commands (PRODUCT R2).
	HelpNew     Key = "help_new"
	HelpChats   Key = "help_chats"
	HelpRename  Key = "help_rename"
	HelpArchive Key = "help_archive"
	HelpClear   Key = "help_clear"
	HelpContext Key = "help_context"
	// RoomCommandOnly answers a room command sent outside a chat room.
	RoomCommandOnly Key = "room_command_only"
	ChatCreated     Key = "chat_created"
	ChatFailed      Key = "chat_failed"
	ChatsHeader     Key = "chats_header"
	ChatsLine       Key = "chats_line"
	ChatsCurrent    Key = "chats_current"
	NameEmpty       Key = "name_empty"
	Renamed         Key = "renamed"
	RenameFailed    Key = "rename_failed"
	Archived        Key = "archived"
	ArchiveFailed   Key = "archive_failed"
	// BusyReply answers !archive while a reply is running.
	BusyReply   Key = "busy_reply"
	Cleared     Key = "cleared"
	ClearFailed Key = "clear_failed"
	ContextInfo Key = "context_info"
	WordYes     Key = "word_yes"
	WordNo      Key = "word_no"
	WordNever   Key = "word_never"

	// Saved conversations and agent choice (PRODUCT R2.12, R2.13).
	HelpSave      Key = "help_save"
	HelpLoad      Key = "help_load"
	HelpAgent     Key = "help_agent"
	Saved         Key = "saved"
	SaveFailed    Key = "save_failed"
	SavedHeader   Key = "saved_header"
	SavedLine     Key = "saved_line"
	NothingSaved  Key = "nothing_saved"
	LoadUnknown   Key = "load_unknown"
	Loaded        Key = "loaded"
	LoadFailed    Key = "load_failed"
	AgentFixed    Key = "agent_fixed"
	AgentsHeader  Key = "agents_header"
	AgentsLine    Key = "agents_line"
	AgentsCurrent Key = "agents_current"
	AgentUnknown  Key = "agent_unknown"
	AgentSwitched Key = "agent_switched"
	AgentSame     Key = "agent_same"
	AgentGone     Key = "agent_gone"
	// RateLimited answers the first message over a user's rate limit.
	RateLimited Key = "rate_limited"
	// MovedToAssigned: a room on the default agent moved to the agent the
	// operator assigned its owner.
	MovedToAssigned Key = "moved_to_assigned"
	// MovedToDefault: the owner lost their assigned agent (default policy),
	// so the room moved to the default agent.
	MovedToDefault Key = "moved_to_default"
	HelpRetry      Key = "help_retry"
	// RetryHint ends every notice about a failed turn (PRODUCT R3.12).
	RetryHint      Key = "retry_hint"
	NothingToRetry Key = "nothing_to_retry"
	HelpUsage      Key = "help_usage"
	// UsageInfo answers !usage; {chat} and {all} are UsageLine texts.
	UsageInfo   Key = "usage_info"
	UsageLine   Key = "usage_line"
	UsageFailed Key = "usage_failed"
	WordNone    Key = "word_none"
	// AnswerBelow replaces the streamed preview of a long turn whose final
	// answer follows as a new message.
	AnswerBelow Key = "answer_below"
	HelpStop    Key = "help_stop"
	// Files through the shared volume (PRODUCT R4).
	HelpList     Key = "help_list"
	HelpRemove   Key = "help_remove"
	FileStaged   Key = "file_staged"
	FileTooLarge Key = "file_too_large"
	// QuotaChats refuses a !new past quota.max_chats (PRODUCT R6.4).
	QuotaChats Key = "quota_chats"
	// QuotaStaged refuses a file past quota.max_staged_bytes (PRODUCT R6.4).
	QuotaStaged      Key = "quota_staged"
	FileFailed       Key = "file_failed"
	FilesInChat      Key = "files_in_chat"
	StagedList       Key = "staged_list"
	StagedNone       Key = "staged_none"
	StagedRemoved    Key = "staged_removed"
	StagedRemovedAll Key = "staged_removed_all"
	RemoveWhich      Key = "remove_which"
	FileSendFailed   Key = "file_send_failed"
	FileOutTooLarge  Key = "file_out_too_large"
	// StoppedMark ends a reply the user stopped.
	StoppedMark   Key = "stopped_mark"
	NothingToStop Key = "nothing_to_stop"
	// ConfirmTimedOut: a confirmation request nobody answered was declined.
	ConfirmTimedOut Key = "confirm_timed_out"
	// ConfirmNotSent: an answer to a confirmation request did not reach the agent.
	ConfirmNotSent Key = "confirm_not_sent"
)

var en = map[Key]string{
	Welcome:               "Hi {name}! This is **{chat}**, a conversation with {agent}. Just write: every message goes to the agent, and the reply streams in here.\n\n{commands}",
	EntryPointer:          "Welcome! I made you a Space, **{space}**, with your first chat, **{chat}**: {link}. Accept the invitations and talk to the agent there.",
	Reinvited:             "You already have a Space, **{space}**. I sent you fresh invitations to it and to your chats.",
	HelpHeader:            "Commands:",
	HelpHelp:              "`!help` — this list",
	HelpYes:               "`!yes` — approve what the agent asked to do",
	HelpNo:                "`!no` — decline what the agent asked to do",
	NothingToConfirm:      "The agent is not waiting for an answer right now.",
	UnknownCmd:            "Unknown command `{command}`, see `!help`.",
	QueueFull:             "Too many messages are waiting for the agent ({size}). This one was not sent: please resend it when the current reply is done.",
	Incomplete:            "_(reply incomplete)_",
	EmptyReply:            "The agent finished without a reply.",
	Undelivered:           "Part of the reply could not be shown here (Matrix refused it), so what you see may be incomplete. Please ask again if something is missing.",
	TurnCrashed:           "Something went wrong on my side while answering, and the reply was stopped.",
	Restarted:             "I restarted while answering, so that reply was cut off.",
	MessagesSkipped:       "I was away for a while and could not read every message sent here meanwhile. If I do not answer something you sent, please send it again.",
	StopCut:               "I am restarting and had to cut this reply short. Messages you sent after it will be answered once I am back.",
	StoreFailing:          "I can't save this chat's state right now (a storage problem on my side; the operator is alerted). Nothing you sent is lost: I keep trying, and your messages are answered once it works again.",
	AgentUnavailable:      "The agent can't be reached right now. Please try again in a moment.",
	AgentTimeout:          "The agent stopped responding, so I ended this reply.",
	AgentProtocol:         "The agent sent something I could not understand, so I ended this reply.",
	AgentDisconnected:     "The connection to the agent was lost during the reply.",
	AgentReported:         "The agent reported an error: {message}",
	AgentFailed:           "The reply failed.",
	AccessDenied:          "Sorry, you don't have access to an agent here.",
	DefaultAgent:          "You aren't assigned an agent yet, so you're talking to the default one, {agent}.",
	OnboardingFailed:      "I could not set up your Space right now. Please invite me again in a moment.",
	ConfirmRequest:        "The agent asks: {text}\n\nAnswer `!yes` or `!no`, or react 👍 or 👎 to this message.",
	FileRefused:           "The agent tried to send `{path}`, which is outside its workspace, so I refused it.",
	EncryptedNotSupported: "This room is encrypted and I can't read encrypted messages yet. Please talk to me in an unencrypted chat.",
	Undecryptable:         "I couldn't decrypt one of your messages: its keys never reached me. Please send it again.",
	DeviceChanged:         "My encryption keys changed (I'm running on a new device now). If your app warns about a new device, that's me. Messages you sent while I was away may not have reached me; please send them again.",
	ProgressTool:          "⚙ {name}…",
	ProgressToolDone:      "⚙ {name} done",
	ProgressWorking:       "⚙ working…",
	SpaceName:             "Lambda — {name}",
	ChatName:              "Chat {n}",
	HelpNew:               "`!new [name]` — a new chat (a fresh conversation with the agent)",
	HelpChats:             "`!chats` — your chats, with links",
	HelpRename:            "`!rename <name>` — rename this chat",
	HelpArchive:           "`!archive` — archive this chat: it leaves your Space",
	HelpClear:             "`!clear` (or `!reset`) — start this chat's conversation afresh",
	HelpContext:           "`!context` — what this chat is bound to",
	RoomCommandOnly:       "`{command}` works in one of your chats, not here.",
	ChatCreated:           "I made **{chat}** in your Space and invited you: {link}",
	ChatFailed:            "I could not create the new chat right now. Please try again in a moment.",
	ChatsHeader:           "Your chats:",
	ChatsLine:             "- [{chat}]({link})",
	ChatsCurrent:          " ← this one",
	NameEmpty:             "Please give a name, e.g. `{command} Travel plans`.",
	Renamed:               "This chat is now called **{name}**.",
	RenameFailed:          "I could not rename this chat right now. Please try again in a moment.",
	Archived:              "**{chat}** is archived: it is no longer in your Space and I am leaving it. `!new` starts another chat.",
	ArchiveFailed:         "I could not archive this chat right now. Please try again in a moment.",
	BusyReply:             "A reply is still being written here; please send `{command}` again when it is done.",
	Cleared:               "Fresh start: from your next message on, the agent no longer sees what was said here before.",
	ClearFailed:           "I could not start a fresh conversation right now. Please try again in a moment.",
	ContextInfo:           "**{chat}**\n- agent: {agent} (`{agent_id}`)\n- conversation id: `{chat_id}`\n- files waiting to be sent: {staged}\n- reply running: {running}\n- last reply: {last}\n- tokens used: {tokens}\n- usage: {usage}",
	WordYes:               "yes",
	WordNo:                "no",
	WordNever:             "never",
	HelpSave:              "`!save [name]` — remember this chat's conversation under a name",
	HelpLoad:              "`!load [n|name]` — list saved conversations, or continue one in this chat",
	HelpAgent:             "`!agent [n|id]` — list the agents, or switch this chat to one",
	Saved:                 "Saved this conversation as **{name}**. `!load` lists what you saved.",
	SaveFailed:            "I could not save this conversation right now. Please try again in a moment.",
	SavedHeader:           "Saved conversations (`!load <n>` continues one in this chat):",
	SavedLine:             "{n}. **{name}** — {agent}, {date}",
	NothingSaved:          "Nothing is saved yet: `!save [name]` remembers this chat's conversation.",
	LoadUnknown:           "There is no saved conversation `{which}`; `!load` lists them.",
	Loaded:                "This chat now continues **{name}** with {agent}.",
	LoadFailed:            "I could not load that conversation right now. Please try again in a moment.",
	AgentFixed:            "Which agent you talk to is set by the operator.",
	AgentsHeader:          "Agents (`!agent <n>` switches this chat to one):",
	AgentsLine:            "{n}. {agent} (`{id}`)",
	AgentsCurrent:         " ← this chat",
	AgentUnknown:          "There is no agent `{which}`; `!agent` lists them.",
	AgentSwitched:         "This chat now talks to {agent}, in a fresh conversation.",
	AgentSame:             "This chat already talks to {agent}.",
	AgentGone:             "The agent of that conversation (`{agent}`) is not available any more.",
	HelpRetry:             "`!retry` — send the last message whose reply failed again",
	HelpUsage:             "`!usage` — turns, tokens and reply times, for this chat and all your chats",
	UsageInfo:             "**This chat:** {chat}\n**All your chats:** {all}",
	UsageLine:             "{tokens} tokens in {turns} turns; first reply after {median} (median)",
	UsageFailed:           "I could not add up your usage right now. Please try again in a moment.",
	WordNone:              "—",
	AnswerBelow:           "_(the complete answer is below)_",
	HelpStop:              "`!stop` — stop the reply being written (or react 🛑 to it)",
	HelpList:              "`!list` — the files waiting to go to the agent with your next message",
	HelpRemove:            "`!remove <n|all>` — take a waiting file back (it is deleted)",
	FileStaged:            "Got **{name}** ({size}). It goes to the agent with your next message ({count} waiting; `!list`, `!remove`).",
	FileTooLarge:          "**{name}** is too large ({size}; the limit is {limit}), so I did not pass it on.",
	QuotaChats:            "You have {count} active chats, the most you can have. `!archive` a chat you no longer need (in that chat), then `!new` again.",
	QuotaStaged:           "I did not keep **{name}**: your files waiting for the agent would go over your limit of {limit} ({used} waiting now). Send a message to hand them over, or `!remove` some, then send the file again.",
	FileFailed:            "I could not receive **{name}**; please send it again.",
	FilesInChat:           "Send files in one of your chats, not here.",
	StagedList:            "Waiting to go to the agent with your next message:\n{files}",
	StagedNone:            "No files are waiting.",
	StagedRemoved:         "Removed **{name}**.",
	StagedRemovedAll:      "Removed {count} waiting files.",
	RemoveWhich:           "Which file? `!list` numbers them: `!remove 1`, or `!remove all`.",
	FileSendFailed:        "The agent sent `{path}`, but I could not deliver it.",
	FileOutTooLarge:       "The agent sent `{path}`, which is over the limit of {limit}, so I did not deliver it.",
	StoppedMark:           "_(stopped)_",
	NothingToStop:         "No reply is being written here, so there is nothing to stop.",
	ConfirmTimedOut:       "Nobody answered the agent's question in time, so I declined it.",
	ConfirmNotSent:        "Your answer did not reach the agent. Please answer again.",
	RetryHint:             "Send `!retry` to try again.",
	NothingToRetry:        "There is nothing to retry here: the last reply did not fail.",
	MovedToAssigned:       "You now have your own agent, {agent}: this chat talks to it from here on, in a fresh conversation.",
	MovedToDefault:        "You no longer have an agent of your own, so this chat now talks to the default agent, {agent}, in a fresh conversation.",
	RateLimited:           "You are sending messages faster than I can pass them on, so I am ignoring them for now; messages you send in {wait} s will go through again.",
}

var ru = map[Key]string{
	Welcome:               "Привет, {name}! Это **{chat}**, разговор с {agent}. Просто пиши: каждое сообщение уходит агенту, ответ появится здесь.\n\n{commands}",
	EntryPointer:          "Добро пожаловать! Я создал тебе пространство **{space}** с первым чатом **{chat}**: {link}. Прими приглашения и общайся с агентом там.",
	Reinvited:             "У тебя уже есть пространство **{space}**. Я заново пригласил тебя в него и во все твои чаты.",
	HelpHeader:            "Команды:",
	HelpHelp:              "`!help` — этот список",
	HelpYes:               "`!yes` — разрешить то, о чём спрашивает агент",
	HelpNo:                "`!no` — отказать агенту",
	NothingToConfirm:      "Агент сейчас ничего не спрашивает.",
	UnknownCmd:            "Неизвестная команда `{command}`, см. `!help`.",
	QueueFull:             "Слишком много сообщений ждут агента ({size}). Это сообщение не отправлено: пришли его снова, когда текущий ответ закончится.",
	Incomplete:            "_(ответ не завершён)_",
	EmptyReply:            "Агент закончил без ответа.",
	Undelivered:           "Часть ответа не удалось показать здесь (Matrix отказал), поэтому он может быть неполным. Спроси ещё раз, если чего-то не хватает.",
	TurnCrashed:           "У меня что-то сломалось во время ответа, и он остановлен.",
	Restarted:             "Я перезапустился во время ответа, и он оборвался.",
	MessagesSkipped:       "Меня долго не было, и я не смог прочитать все сообщения, отправленные здесь за это время. Если я не ответил на что-то, отправь это ещё раз.",
	StopCut:               "Я перезапускаюсь и вынужден прервать этот ответ. На сообщения, отправленные после него, я отвечу, когда вернусь.",
	StoreFailing:          "Сейчас я не могу сохранить состояние этого чата (проблема с хранилищем на моей стороне; оператор уже знает). Ничего из отправленного не потеряно: я пробую снова и отвечу, как только всё заработает.",
	AgentUnavailable:      "Агент сейчас недоступен. Попробуй ещё раз чуть позже.",
	AgentTimeout:          "Агент перестал отвечать, и я завершил этот ответ.",
	AgentProtocol:         "Агент прислал что-то непонятное, и я завершил этот ответ.",
	AgentDisconnected:     "Соединение с агентом оборвалось во время ответа.",
	AgentReported:         "Агент сообщил об ошибке: {message}",
	AgentFailed:           "Ответ не удался.",
	AccessDenied:          "Извини, у тебя нет доступа к агенту здесь.",
	DefaultAgent:          "Тебе ещё не назначен агент, поэтому ты общаешься с агентом по умолчанию, {agent}.",
	OnboardingFailed:      "Не получилось создать пространство. Пригласи меня ещё раз чуть позже.",
	ConfirmRequest:        "Агент спрашивает: {text}\n\nОтветь `!yes` или `!no` либо поставь 👍 или 👎 этому сообщению.",
	FileRefused:           "Агент попытался отправить `{path}` вне своего рабочего каталога, и я отказал.",
	EncryptedNotSupported: "Эта комната зашифрована, а я пока не умею читать зашифрованные сообщения. Пиши мне в незашифрованном чате.",
	Undecryptable:         "Не смог расшифровать одно из твоих сообщений: ключи до меня не дошли. Отправь его ещё раз.",
	DeviceChanged:         "Мои ключи шифрования сменились (теперь я работаю на новом устройстве). Если приложение предупреждает о новом устройстве — это я. Сообщения, отправленные, пока меня не было, могли до меня не дойти; отправь их ещё раз.",
	ProgressTool:          "⚙ {name}…",
	ProgressToolDone:      "⚙ {name} готово",
	ProgressWorking:       "⚙ работаю…",
	SpaceName:             "Lambda — {name}",
	ChatName:              "Чат {n}",
	HelpNew:               "`!new [название]` — новый чат (новый разговор с агентом)",
	HelpChats:             "`!chats` — твои чаты со ссылками",
	HelpRename:            "`!rename <название>` — переименовать этот чат",
	HelpArchive:           "`!archive` — архивировать этот чат: он уйдёт из пространства",
	HelpClear:             "`!clear` (или `!reset`) — начать разговор в этом чате заново",
	HelpContext:           "`!context` — к чему привязан этот чат",
	RoomCommandOnly:       "`{command}` работает в одном из твоих чатов, а не здесь.",
	ChatCreated:           "Я создал **{chat}** в твоём пространстве и пригласил тебя: {link}",
	ChatFailed:            "Не получилось создать новый чат. Попробуй ещё раз чуть позже.",
	ChatsHeader:           "Твои чаты:",
	ChatsLine:             "- [{chat}]({link})",
	ChatsCurrent:          " ← этот",
	NameEmpty:             "Укажи название, например `{command} Планы на отпуск`.",
	Renamed:               "Теперь этот чат называется **{name}**.",
	RenameFailed:          "Не получилось переименовать чат. Попробуй ещё раз чуть позже.",
	Archived:              "**{chat}** в архиве: его больше нет в пространстве, и я из него выхожу. `!new` начнёт новый чат.",
	ArchiveFailed:         "Не получилось архивировать чат. Попробуй ещё раз чуть позже.",
	BusyReply:             "Здесь ещё пишется ответ; отправь `{command}` снова, когда он закончится.",
	Cleared:               "Начинаем заново: со следующего сообщения агент не видит того, что было сказано здесь раньше.",
	ClearFailed:           "Не получилось начать разговор заново. Попробуй ещё раз чуть позже.",
	ContextInfo:           "**{chat}**\n- агент: {agent} (`{agent_id}`)\n- идентификатор разговора: `{chat_id}`\n- файлы, ждущие отправки: {staged}\n- ответ пишется: {running}\n- последний ответ: {last}\n- использовано токенов: {tokens}\n- использование: {usage}",
	WordYes:               "да",
	WordNo:                "нет",
	WordNever:             "ещё не было",
	HelpSave:              "`!save [название]` — запомнить разговор этого чата под названием",
	HelpLoad:              "`!load [n|название]` — список сохранённых разговоров или продолжить один из них здесь",
	HelpAgent:             "`!agent [n|id]` — список агентов или переключить этот чат на другого",
	Saved:                 "Разговор сохранён как **{name}**. `!load` покажет сохранённое.",
	SaveFailed:            "Не получилось сохранить разговор. Попробуй ещё раз чуть позже.",
	SavedHeader:           "Сохранённые разговоры (`!load <n>` продолжит один из них в этом чате):",
	SavedLine:             "{n}. **{name}** — {agent}, {date}",
	NothingSaved:          "Пока ничего не сохранено: `!save [название]` запомнит разговор этого чата.",
	LoadUnknown:           "Нет сохранённого разговора `{which}`; `!load` покажет список.",
	Loaded:                "Этот чат продолжает **{name}** с {agent}.",
	LoadFailed:            "Не получилось загрузить разговор. Попробуй ещё раз чуть позже.",
	AgentFixed:            "С каким агентом ты общаешься, решает оператор.",
	AgentsHeader:          "Агенты (`!agent <n>` переключит этот чат):",
	AgentsLine:            "{n}. {agent} (`{id}`)",
	AgentsCurrent:         " ← этот чат",
	AgentUnknown:          "Нет агента `{which}`; `!agent` покажет список.",
	AgentSwitched:         "Теперь этот чат общается с {agent}, разговор начат заново.",
	AgentSame:             "Этот чат уже общается с {agent}.",
	AgentGone:             "Агент этого разговора (`{agent}`) больше недоступен.",
	HelpRetry:             "`!retry` — ещё раз отправить последнее сообщение, ответ на которое не удался",
	HelpUsage:             "`!usage` — ходы, токены и время ответа в этом чате и во всех твоих чатах",
	UsageInfo:             "**Этот чат:** {chat}\n**Все твои чаты:** {all}",
	UsageLine:             "{tokens} токенов за {turns} ходов; первый ответ через {median} (медиана)",
	UsageFailed:           "Не получилось посчитать использование. Попробуй ещё раз чуть позже.",
	WordNone:              "—",
	AnswerBelow:           "_(полный ответ ниже)_",
	HelpStop:              "`!stop` — остановить пишущийся ответ (или поставь ему 🛑)",
	HelpList:              "`!list` — файлы, которые уйдут агенту с твоим следующим сообщением",
	HelpRemove:            "`!remove <n|all>` — забрать ждущий файл (он удаляется)",
	FileStaged:            "Получил **{name}** ({size}). Он уйдёт агенту с твоим следующим сообщением (ждут: {count}; `!list`, `!remove`).",
	FileTooLarge:          "**{name}** слишком большой ({size}; предел {limit}), я не стал его передавать.",
	QuotaChats:            "У тебя уже {count} активных чатов — это максимум. Выполни `!archive` в чате, который больше не нужен, и затем снова `!new`.",
	QuotaStaged:           "Я не сохранил **{name}**: файлы, ждущие агента, превысили бы твой лимит {limit} (сейчас ждут {used}). Отправь сообщение, чтобы передать их, или удали часть через `!remove`, и пришли файл снова.",
	FileFailed:            "Не получилось принять **{name}**; пришли его ещё раз.",
	FilesInChat:           "Присылай файлы в один из своих чатов, не сюда.",
	StagedList:            "Уйдут агенту с твоим следующим сообщением:\n{files}",
	StagedNone:            "Ждущих файлов нет.",
	StagedRemoved:         "Убрал **{name}**.",
	StagedRemovedAll:      "Убрал ждущих файлов: {count}.",
	RemoveWhich:           "Какой файл? `!list` их нумерует: `!remove 1` или `!remove all`.",
	FileSendFailed:        "Агент прислал `{path}`, но доставить его не получилось.",
	FileOutTooLarge:       "Агент прислал `{path}`, это больше предела {limit}, я не стал его доставлять.",
	StoppedMark:           "_(остановлено)_",
	NothingToStop:         "Здесь сейчас не пишется ответ, останавливать нечего.",
	ConfirmTimedOut:       "На вопрос агента вовремя не ответили, поэтому я отказал.",
	ConfirmNotSent:        "Твой ответ не дошёл до агента. Ответь, пожалуйста, ещё раз.",
	RetryHint:             "Отправь `!retry`, чтобы попробовать ещё раз.",
	NothingToRetry:        "Здесь нечего повторять: последний ответ не сорвался.",
	MovedToAssigned:       "Теперь у тебя свой агент, {agent}: дальше этот чат общается с ним, разговор начат заново.",
	MovedToDefault:        "У тебя больше нет своего агента, поэтому дальше этот чат общается с агентом по умолчанию, {agent}, разговор начат заново.",
	RateLimited:           "Ты отправляешь сообщения быстрее, чем я успеваю их передавать, поэтому пока я их пропускаю; сообщения, отправленные через {wait} с, снова дойдут.",
}
