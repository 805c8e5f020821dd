// Workers' reports and suggestions on the public pages (pass page and public map): the
// form, the photo shrunk in the browser, sending (with the pass's secret, or anonymously
// with a solved proof of work: proof.js) and every answer said in the worker's language.
// Report text is always set as text, never as HTML.
// Plain ES2017 without modules: WeChat's built-in browser runs these pages too.
"use strict";
var yzVoice = (function () {
  var t = yzLang.t;
  var CATEGORIES = ["door", "water", "power", "cleanliness", "safety", "occupancy", "other"];
  var MAX_CHARS = 500;
  var MAX_PHOTO = 2 * 1024 * 1024;
  var LONGEST_SIDE = 1600;   // the server keeps no more than this either

  function make(tag, className, key) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (key) {
      element.setAttribute("data-i18n", key);
      element.textContent = t(key);
    }
    return element;
  }

  function dataUrlOf(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result)); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsDataURL(file);
    });
  }

  function decoded(url) {
    return new Promise(function (resolve, reject) {
      var image = new Image();
      image.onload = function () { resolve(image); };
      image.onerror = function () { reject(new Error("not an image")); };
      image.src = url;
    });
  }

  // The photo as base64, at most 2 MB: a larger one is drawn smaller on a canvas and sent
  // as a JPEG, shrinking further until it fits. Null when there is no photo.
  async function photoBase64(file) {
    if (!file) return null;
    var url = await dataUrlOf(file);
    if (file.size <= MAX_PHOTO) return url.slice(url.indexOf(",") + 1);
    var image = await decoded(url);
    var side = Math.min(LONGEST_SIDE, Math.max(image.naturalWidth, image.naturalHeight));
    for (var quality = 0.85; ; quality -= 0.15) {
      var scale = side / Math.max(image.naturalWidth, image.naturalHeight);
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
      canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
      var jpeg = canvas.toDataURL("image/jpeg", Math.max(quality, 0.4));
      var base64 = jpeg.slice(jpeg.indexOf(",") + 1);
      if (base64.length * 3 / 4 <= MAX_PHOTO || side < 400) return base64;
      side = Math.round(side * 0.75);
    }
  }

  // What an answer means for the worker, as a catalogue key and its values.
  function outcome(status, headers) {
    if (status === 201) return {key: "voice.sent", ok: true};
    if (status === 413) return {key: "voice.error.too_large"};
    if (status === 422) return {key: "voice.error.invalid"};
    if (status === 429) {
      var wait = Number(headers && headers.get("Retry-After"));
      var minutes = Math.max(1, Math.ceil((isFinite(wait) ? wait : 60) / 60));
      return {key: "voice.error.too_many", values: {minutes: minutes}};
    }
    if (status === 404) return {key: "voice.error.gone"};
    if (status === 403) return {key: "voice.error.refused"};
    return {key: "voice.error.server"};
  }

  async function anonymousProof() {
    var answer = await fetch("/api/public/feedback/challenge", {cache: "no-store"});
    if (!answer.ok) throw new Error("no challenge: " + answer.status);
    var puzzle = await answer.json();
    var nonce = await yzProof.solve(puzzle.challenge, puzzle.bits);
    return {challenge: puzzle.challenge, nonce: nonce};
  }

  // A form for one station (`options.stationId()` says which, when it is sent), sending
  // with `options.passSecret` or, without one, anonymously. `options.sent` hears of a
  // report accepted. Returns the form's element.
  function form(options) {
    var root = make("form", "voice-form");
    root.noValidate = true;
    var kinds = make("fieldset", "voice-kinds");
    var legend = make("legend", "", "voice.kind");
    kinds.appendChild(legend);
    var group = "yz-kind-" + Math.random().toString(36).slice(2);
    ["problem", "suggestion"].forEach(function (kind, index) {
      var label = make("label", "voice-kind");
      var radio = document.createElement("input");
      radio.type = "radio";
      radio.name = group;
      radio.value = kind;
      radio.checked = index === 0;
      radio.setAttribute("data-kind", kind);
      label.appendChild(radio);
      label.appendChild(make("span", "", "voice.kind." + kind));
      kinds.appendChild(label);
    });
    root.appendChild(kinds);

    var categoryLabel = make("label", "voice-field");
    categoryLabel.appendChild(make("span", "", "voice.category"));
    var category = document.createElement("select");
    category.name = "category";
    CATEGORIES.forEach(function (name) {
      var option = make("option", "", "feedback.category." + name);
      option.value = name;
      category.appendChild(option);
    });
    categoryLabel.appendChild(category);
    root.appendChild(categoryLabel);

    var textLabel = make("label", "voice-field");
    textLabel.appendChild(make("span", "", "voice.text"));
    var text = document.createElement("textarea");
    text.name = "text";
    text.rows = 3;
    text.maxLength = MAX_CHARS;
    textLabel.appendChild(text);
    root.appendChild(textLabel);
    var counter = make("p", "voice-counter");
    root.appendChild(counter);

    var photoLabel = make("label", "voice-field");
    photoLabel.appendChild(make("span", "", "voice.photo"));
    var photo = document.createElement("input");
    photo.type = "file";
    photo.name = "photo";
    photo.accept = "image/*";
    photoLabel.appendChild(photo);
    root.appendChild(photoLabel);

    var send = make("button", "voice-send", "voice.send");
    send.type = "submit";
    root.appendChild(send);
    var message = make("p", "voice-message");
    message.setAttribute("role", "status");
    message.setAttribute("aria-live", "polite");
    root.appendChild(message);
    var said = null;   // {key, values, ok}: drawn again on a language change

    function count() {
      counter.textContent = t("voice.counter", {count: text.value.length, max: MAX_CHARS});
    }

    function say(what) {
      said = what;
      message.textContent = what ? t(what.key, what.values) : "";
      message.className = "voice-message" + (what ? (what.ok ? " ok" : " warn") : "");
    }

    function kind() {
      var checked = root.querySelector("input[type=radio]:checked");
      return checked ? checked.value : "problem";
    }

    async function submit(event) {
      event.preventDefault();
      var words = text.value.trim();
      if (!words) { say({key: "voice.error.empty"}); return; }
      if (words.length > MAX_CHARS) { say({key: "voice.error.invalid"}); return; }
      var body = {
        kind: kind(), station_id: options.stationId(), category: category.value,
        text: words, lang: yzLang.language,
      };
      send.disabled = true;
      try {
        say({key: "voice.sending"});
        var picture = photo.files && photo.files[0];
        try {
          var shrunk = await photoBase64(picture);
          if (shrunk) body.photo_base64 = shrunk;
        } catch (error) {
          say({key: "voice.error.photo"});
          return;
        }
        if (options.passSecret) {
          body.pass_secret = options.passSecret;
        } else {
          say({key: "voice.proving"});
          var proof = await anonymousProof();
          body.challenge = proof.challenge;
          body.nonce = proof.nonce;
        }
        var answer = await fetch("/api/public/feedback", {
          method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify(body), cache: "no-store",
        });
        var result = outcome(answer.status, answer.headers);
        say(result);
        if (result.ok) {
          text.value = "";
          photo.value = "";
          count();
          if (options.sent) options.sent(await answer.json());
        }
      } catch (error) {
        say({key: "voice.error.network"});
      } finally {
        send.disabled = false;
      }
    }

    text.addEventListener("input", count);
    root.addEventListener("submit", submit);
    document.addEventListener("yz-language", function () {
      yzLang.apply(root);
      count();
      say(said);
    });
    count();
    return root;
  }

  return {form: form, CATEGORIES: CATEGORIES};
})();
