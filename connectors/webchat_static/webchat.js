/* 클린봇 web chat: talks to Rasa's socket.io channel (connectors/socketio.py) of the same server.
 * The socket connects with a signed token ({auth: {token}}): in production the marketplace's login
 * hands it to the page in the address fragment (#token=...); in the demo the page asks the demo-only
 * token endpoint for the chosen identity. The server binds the conversation to the token's subject.
 * Every message goes out as {message, session_id, metadata}. Photos travel as data URLs in
 * metadata.photos, exactly as the REST channel takes them. The server acknowledges each message
 * once the bot has answered. */
(function () {
  "use strict";

  var ACK_TIMEOUT_MS = 90000;
  var DEFAULT_SOCKETIO = { path: "/socket.io", namespace: "/", user_message_evt: "user_uttered", bot_message_evt: "bot_uttered" };

  var els = {
    status: document.getElementById("status"),
    identity: document.getElementById("identity"),
    identityHint: document.getElementById("identity-hint"),
    log: document.getElementById("log"),
    typing: document.getElementById("typing"),
    form: document.getElementById("composer"),
    message: document.getElementById("message"),
    send: document.getElementById("send"),
    photo: document.getElementById("photo"),
    photoLabel: document.getElementById("photo-label"),
    attachments: document.getElementById("attachments")
  };

  var config = { socketio: DEFAULT_SOCKETIO, photo_max_bytes: 10 * 1024 * 1024, photos_per_message: 5, identities: [],
                 demo_token_url: "" };
  var socket = null;
  var sender = "";
  var token = "";
  var confirmed = false;
  var outage = false;
  var attachments = [];     // {name, size, dataUrl}
  var pending = {};         // message number -> true, until the server acknowledges it
  var pendingCount = 0;
  var nextNumber = 1;

  // ------------------------------------------------------------------ helpers

  // File sizes as people read them: "820KB", "2.4MB"; rounded up, so an oversized file never reads as the limit.
  function fileSize(bytes) {
    if (bytes < 1024 * 1024) return Math.max(1, Math.ceil(bytes / 1024)) + "KB";
    return Math.ceil(bytes / (1024 * 1024) * 10) / 10 + "MB";
  }

  function scrollDown() {
    els.log.scrollTop = els.log.scrollHeight;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function addBubble(kind, text) {
    var wrapper = element("div", "msg " + kind);
    var bubble = element("div", "bubble");
    if (text) bubble.appendChild(element("p", null, text));
    wrapper.appendChild(bubble);
    els.log.appendChild(wrapper);
    scrollDown();
    return { wrapper: wrapper, bubble: bubble };
  }

  function systemNote(text) {
    var note = element("div", "msg system");
    note.appendChild(element("p", null, text));
    els.log.appendChild(note);
    scrollDown();
  }

  function showError(text) {
    var made = addBubble("error", text);
    made.wrapper.setAttribute("role", "alert");
  }

  function setStatus(state, text) {
    els.status.dataset.state = state;
    els.status.textContent = text;
  }

  function refreshControls() {
    var ready = Boolean(sender) && confirmed && socket !== null && socket.connected;
    els.message.disabled = !ready;
    els.send.disabled = !ready;
    els.photo.disabled = !ready;
  }

  function updateTyping() {
    els.typing.hidden = pendingCount === 0;
    if (!els.typing.hidden) scrollDown();
  }

  function forgetPending() {
    var had = pendingCount > 0;
    pending = {};
    pendingCount = 0;
    updateTyping();
    return had;
  }

  function disableOldChips() {
    var chips = els.log.querySelectorAll(".chip:not(:disabled)");
    for (var i = 0; i < chips.length; i++) chips[i].disabled = true;
  }

  function safeImageUrl(url) {
    if (typeof url !== "string") return null;
    return /^(https?:\/\/|\/|data:image\/)/i.test(url) ? url : null;
  }

  // ------------------------------------------------------------------ rendering bot messages

  function renderBotMessage(data) {
    if (!data || typeof data !== "object") return;
    var text = typeof data.text === "string" ? data.text : "";
    var buttons = data.quick_replies || data.buttons || [];
    var image = data.image;
    if (!image && data.attachment && data.attachment.type === "image" && data.attachment.payload) {
      image = data.attachment.payload.src;
    }
    image = safeImageUrl(image);
    if (!text && !image && !buttons.length) {
      if (data.attachment) addBubble("bot", "이 화면에서 보여 드릴 수 없는 첨부 파일이 왔어요.");
      return;
    }
    var made = addBubble(data.pushed ? "bot pushed" : "bot", "");
    if (data.pushed) made.wrapper.insertBefore(element("span", "badge", "새 알림"), made.bubble);
    if (text) made.bubble.appendChild(element("p", null, text));
    if (image) {
      var img = element("img", "image");
      img.src = image;
      img.alt = "클린봇이 보낸 이미지";
      img.loading = "lazy";
      img.addEventListener("load", scrollDown);
      made.bubble.appendChild(img);
    }
    if (buttons.length) {
      var chips = element("div", "chips");
      chips.setAttribute("role", "group");
      chips.setAttribute("aria-label", "빠른 답변");
      buttons.forEach(function (button) {
        if (!button || typeof button.title !== "string") return;
        var chip = element("button", "chip", button.title);
        chip.type = "button";
        chip.addEventListener("click", function () {
          sendMessage(typeof button.payload === "string" ? button.payload : button.title, button.title);
        });
        chips.appendChild(chip);
      });
      made.wrapper.appendChild(chips);
    }
    scrollDown();
  }

  // ------------------------------------------------------------------ sending

  function sendMessage(text, shownText) {
    text = (text || "").trim();
    if (!sender) {
      showError("먼저 위에서 데모 사용자를 골라 주세요.");
      return false;
    }
    if (!socket || !socket.connected || !confirmed) {
      showError("지금은 서버와 연결되어 있지 않아서 메시지를 보낼 수 없어요. 연결되면 다시 보내 주세요.");
      return false;
    }
    var photos = attachments.slice();
    if (!text && !photos.length) return false;

    disableOldChips();
    var shown = shownText || text || "사진 " + photos.length + "장을 보냈어요";
    var made = addBubble("user", shown);
    if (photos.length) {
      var thumbs = element("div", "thumbs");
      photos.forEach(function (photo) {
        var img = element("img");
        img.src = photo.dataUrl;
        img.alt = "보낸 사진: " + photo.name;
        thumbs.appendChild(img);
      });
      made.wrapper.appendChild(thumbs);
    }
    scrollDown();

    var metadata = {};
    if (photos.length) metadata.photos = photos.map(function (photo) { return photo.dataUrl; });
    var number = nextNumber++;
    pending[number] = true;
    pendingCount++;
    updateTyping();
    var evt = config.socketio.user_message_evt || "user_uttered";
    socket.timeout(ACK_TIMEOUT_MS).emit(evt, { message: text, session_id: sender, metadata: metadata }, function (err) {
      if (!pending[number]) return; // forgotten after a disconnect or a change of user
      delete pending[number];
      pendingCount--;
      updateTyping();
      if (err) showError("답변이 오지 않고 있어요. 잠시 후 다시 보내 주세요. 계속 안 되면 '상담원 연결'이라고 입력해 주세요.");
    });
    clearAttachments();
    return true;
  }

  // ------------------------------------------------------------------ photos

  function clearAttachments() {
    attachments = [];
    renderAttachments();
  }

  function renderAttachments() {
    els.attachments.textContent = "";
    els.attachments.hidden = attachments.length === 0;
    attachments.forEach(function (photo, index) {
      var item = element("span", "attachment");
      var img = element("img");
      img.src = photo.dataUrl;
      img.alt = "";
      item.appendChild(img);
      item.appendChild(element("span", null, photo.name + " (" + fileSize(photo.size) + ")"));
      var remove = element("button", null, "✕");
      remove.type = "button";
      remove.setAttribute("aria-label", photo.name + " 사진 빼기");
      remove.addEventListener("click", function () {
        attachments.splice(index, 1);
        renderAttachments();
        els.message.focus();
      });
      item.appendChild(remove);
      els.attachments.appendChild(item);
    });
    if (attachments.length) {
      els.attachments.appendChild(element("span", "sr-only", "사진 " + attachments.length + "장이 첨부됐어요. 보내기를 누르면 함께 보내요."));
    }
  }

  function readAsDataUrl(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsDataURL(file);
    });
  }

  function addFiles(fileList) {
    var files = Array.prototype.slice.call(fileList || []);
    var room = config.photos_per_message - attachments.length;
    if (files.length > room) {
      showError("사진은 한 번에 최대 " + config.photos_per_message + "장까지 보낼 수 있어요. 앞의 " + Math.max(room, 0) + "장만 첨부했어요.");
      files = files.slice(0, Math.max(room, 0));
    }
    var accepted = files.filter(function (file) {
      if (file.size > config.photo_max_bytes) {
        showError("'" + file.name + "' 파일은 " + fileSize(file.size) + "라서 보낼 수 없어요. 사진은 한 장에 "
          + fileSize(config.photo_max_bytes) + " 이하만 보낼 수 있어요. 크기를 줄여서 다시 골라 주세요.");
        return false;
      }
      if (file.size === 0) {
        showError("'" + file.name + "' 파일이 비어 있어요. 다른 사진을 골라 주세요.");
        return false;
      }
      return true;
    });
    return Promise.all(accepted.map(function (file) {
      return readAsDataUrl(file).then(function (dataUrl) {
        return { name: file.name, size: file.size, dataUrl: dataUrl };
      }, function () {
        showError("'" + file.name + "' 파일을 읽지 못했어요. 다른 사진을 골라 주세요.");
        return null;
      });
    })).then(function (read) {
      read.forEach(function (photo) { if (photo) attachments.push(photo); });
      renderAttachments();
    });
  }

  // ------------------------------------------------------------------ connection

  function requestSession() {
    if (!socket || !socket.connected || !token) return;
    confirmed = false;
    refreshControls();
    socket.emit("session_request", sender ? { session_id: sender } : {});
  }

  // The token from the marketplace's login, handed over in the address fragment (never sent to a server
  // in a URL, and removed from the address bar at once).
  function tokenFromFragment() {
    var match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash || "");
    if (!match) return "";
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    return decodeURIComponent(match[1]);
  }

  function demoToken(id) {
    return fetch(config.demo_token_url, {
      method: "POST", cache: "no-store", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: id })
    }).then(function (reply) {
      if (!reply.ok) throw new Error("HTTP " + reply.status);
      return reply.json();
    }).then(function (body) { return body.token; });
  }

  // (Re)connects with the current token: a new identity means a new socket bound to it.
  function reconnect() {
    if (!socket) return connect();
    socket.disconnect();
    socket.connect();
  }

  function connect() {
    if (!token) return;
    var options = {
      path: config.socketio.path || "/socket.io", reconnectionDelayMax: 5000,
      // One connection, so one server process holds the session: works behind several Sanic workers and
      // replicas without sticky long-polling.
      transports: ["websocket"],
      auth: function (callback) { callback({ token: token }); }
    };
    var namespace = config.socketio.namespace || "/";
    socket = namespace === "/" ? io(options) : io(namespace, options);
    setStatus("connecting", "연결 중이에요");

    socket.on("connect", function () {
      if (outage) systemNote("서버에 다시 연결됐어요.");
      outage = false;
      setStatus("connecting", "연결 중이에요");
      requestSession();
    });

    socket.on("session_confirm", function (sessionId) {
      if (!sender) sender = sessionId;  // signed in: the server says who we are
      if (sessionId !== sender) return;
      confirmed = true;
      setStatus("online", "연결됐어요");
      refreshControls();
      // Move to the input unless the user is still busy elsewhere (e.g. arrowing through the selector).
      var active = document.activeElement;
      if (!active || active === document.body) els.message.focus();
    });

    socket.on(config.socketio.bot_message_evt || "bot_uttered", function (data, acknowledge) {
      renderBotMessage(data);
      // Pushed messages (status updates) ask for a confirmation: the server marks them delivered.
      if (typeof acknowledge === "function") acknowledge(true);
    });

    socket.on("disconnect", function (reason) {
      confirmed = false;
      refreshControls();
      setStatus("offline", "연결이 끊겼어요");
      var lostReply = forgetPending();
      if (reason === "io client disconnect" || outage) return;
      outage = true;
      showError("서버와 연결이 끊겼어요. 다시 연결하는 중이에요."
        + (lostReply ? " 방금 보내신 메시지의 답변을 받지 못했을 수 있어요. 연결되면 한 번 더 보내 주세요." : ""));
    });

    socket.on("auth_error", function (data) {
      confirmed = false;
      refreshControls();
      showError((data && data.error) || "로그인 정보를 확인할 수 없어요. 다시 로그인해 주세요.");
    });

    socket.on("connect_error", function (err) {
      confirmed = false;
      refreshControls();
      setStatus("offline", "연결할 수 없어요");
      // Refused by the server (expired or forged login): retrying with the same token cannot help.
      if (err && err.data && err.data.status) {
        socket.io.reconnection(false);
        outage = false;
        showError(err.message);
        return;
      }
      if (outage) return;
      outage = true;
      showError("클린봇 서버에 연결할 수 없어요. 서버가 켜져 있는지 확인해 주세요. 자동으로 다시 연결해 볼게요.");
    });
  }

  // ------------------------------------------------------------------ identity

  function fillIdentities() {
    var groups = { shopper: "쇼핑 고객", rights_holder: "권리자(브랜드)" };
    Object.keys(groups).forEach(function (kind) {
      var people = config.identities.filter(function (person) { return person.kind === kind; });
      if (!people.length) return;
      var group = element("optgroup");
      group.label = groups[kind];
      people.forEach(function (person) {
        var option = element("option", null, person.label);
        option.value = person.id;
        option.dataset.kind = kind;
        group.appendChild(option);
      });
      els.identity.appendChild(group);
    });
    if (!config.identities.length) {
      els.identity.hidden = true;
      els.identityHint.textContent = token ? "로그인한 계정으로 대화해요."
        : "로그인 정보가 없어요. 마켓에서 로그인한 뒤 채팅을 다시 열어 주세요.";
    }
  }

  function chooseIdentity(id) {
    var option = null;
    for (var i = 0; i < els.identity.options.length; i++) {
      if (els.identity.options[i].value === id) option = els.identity.options[i];
    }
    sender = option && id ? id : "";
    els.identity.value = sender;
    forgetPending();
    clearAttachments();
    els.log.textContent = "";
    var url = new URL(window.location.href);
    if (sender) url.searchParams.set("as", sender); else url.searchParams.delete("as");
    window.history.replaceState(null, "", url.pathname + url.search);
    if (!sender) {
      confirmed = false;
      refreshControls();
      systemNote("위에서 데모 사용자를 고르면 대화를 시작할 수 있어요.");
      return;
    }
    systemNote("지금부터 '" + option.textContent + "' 계정으로 대화해요.");
    if (option.dataset.kind === "rights_holder") {
      systemNote("예: '내 케이스 목록 보여 주세요', 'IPP-2026-000123 상태 알려 주세요'. 케이스 상태가 바뀌면 여기로 바로 알려 드려요.");
    } else {
      systemNote("예: '가품 신고할게요', '최근 주문 보여 주세요', '환불은 언제 되나요?'");
    }
    confirmed = false;
    refreshControls();
    demoToken(sender).then(function (made) {
      token = made;
      if (socket) socket.io.reconnection(true);
      reconnect();
    }).catch(function () {
      showError("데모 로그인을 만들지 못했어요. 서버가 켜져 있는지 확인하고 페이지를 새로고침해 주세요.");
    });
  }

  // ------------------------------------------------------------------ wiring

  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sendMessage(els.message.value)) {
      els.message.value = "";
      autoGrow();
    }
    els.message.focus();
  });

  els.message.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter is a new line; Enter that ends a Korean IME composition does neither.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    els.form.requestSubmit ? els.form.requestSubmit() : els.send.click();
  });

  function autoGrow() {
    if (!els.message.value) {
      els.message.style.height = "";
      return;
    }
    els.message.style.height = "auto";
    els.message.style.height = Math.min(els.message.scrollHeight + 2, 140) + "px";
  }
  els.message.addEventListener("input", autoGrow);

  els.photo.addEventListener("change", function () {
    var files = els.photo.files;
    addFiles(files).then(function () {
      els.photo.value = "";
      els.message.focus();
    });
  });

  els.identity.addEventListener("change", function () {
    chooseIdentity(els.identity.value);
  });

  function start() {
    if (typeof io !== "function") {
      setStatus("offline", "불러오기 실패");
      showError("채팅 프로그램을 불러오지 못했어요. 페이지를 새로고침해 주세요.");
      return;
    }
    fetch("/chat/config.json", { cache: "no-store" })
      .then(function (reply) {
        if (!reply.ok) throw new Error("HTTP " + reply.status);
        return reply.json();
      })
      .then(function (loaded) {
        config.socketio = Object.assign({}, DEFAULT_SOCKETIO, loaded.socketio || {});
        config.photo_max_bytes = loaded.photo_max_bytes || config.photo_max_bytes;
        config.photos_per_message = loaded.photos_per_message || config.photos_per_message;
        config.identities = loaded.identities || [];
        config.demo_token_url = loaded.demo_token_url || "";
      })
      .catch(function () {
        showError("채팅 설정을 불러오지 못했어요. 서버가 켜져 있는지 확인하고 페이지를 새로고침해 주세요.");
      })
      .then(function () {
        els.photoLabel.textContent = "사진 첨부 (JPG, PNG, WebP, 한 장에 " + fileSize(config.photo_max_bytes) + " 이하)";
        token = tokenFromFragment();
        fillIdentities();
        connect();
        var wanted = new URLSearchParams(window.location.search).get("as");
        if (wanted) chooseIdentity(wanted);
        refreshControls();
      });
  }

  start();
})();
