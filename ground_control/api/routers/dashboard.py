"""A one-page dashboard at ``/``: static HTML that polls the JSON API every two seconds. The
page is public; its data calls need a credential, so it asks for a user name and password,
logs in at ``POST /auth/token`` and keeps the token in the tab's sessionStorage (asking again
when it expires)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>lastmile-fleet</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f3f3}.off{color:#a00}.on{color:#070}</style>
</head><body><h1>lastmile-fleet ground control</h1><p><a href="/docs">API docs</a></p>
<form id="login" hidden><input name="username" placeholder="user" autocomplete="username">
<input name="password" type="password" placeholder="password" autocomplete="current-password">
<button>log in</button> <span id="why"></span></form>
<h2>Parcels by state</h2><table id="states"></table>
<h2>Vehicles</h2><table id="vehicles"></table>
<script>
const STATES=["created","planned","dispatched","in_transit","delivered","delivery_failed","returned","lost"];
const login=document.getElementById("login");
function ask(why){login.hidden=false;document.getElementById("why").textContent=why||"";throw new Error("login needed")}
login.onsubmit=async e=>{e.preventDefault();
 const r=await fetch("/auth/token",{method:"POST",body:new URLSearchParams(new FormData(login))});
 if(!r.ok){document.getElementById("why").textContent=(await r.json()).detail;return}
 sessionStorage.setItem("token",(await r.json()).access_token);login.hidden=true;tick()};
async function j(u){const t=sessionStorage.getItem("token");if(!t)ask();
 const r=await fetch(u,{headers:{Authorization:"Bearer "+t}});
 if(r.status===401){sessionStorage.removeItem("token");ask("session expired")}
 return r.json()}
function esc(s){return String(s??"").replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]))}
async function tick(){
 const counts=await Promise.all(STATES.map(s=>j(`/parcels?state=${s}&limit=1`).then(p=>p.total)));
 document.getElementById("states").innerHTML="<tr>"+STATES.map(s=>`<th>${s}</th>`).join("")+"</tr><tr>"+counts.map(c=>`<td>${c}</td>`).join("")+"</tr>";
 const vs=(await j("/vehicles?limit=500")).items;
 const tel=Object.fromEntries((await j("/telemetry?limit=500")).items.map(t=>[t.vehicle_id,t]));
 document.getElementById("vehicles").innerHTML="<tr><th>id</th><th>type</th><th>hub</th><th>online</th><th>enabled</th><th>position</th><th>battery %</th><th>mode</th><th>agent</th><th>mission</th></tr>"+
  vs.map(v=>{const t=tel[v.id]||{};return `<tr><td>${esc(v.id)}</td><td>${esc(v.type)}</td><td>${esc(v.hub_id)}</td><td class="${v.online?"on":"off"}">${v.online?"online":"offline"}</td><td>${v.enabled}</td><td>${t.lat!=null?t.lat.toFixed(5)+", "+t.lon.toFixed(5):""}</td><td>${t.battery_pct!=null?t.battery_pct.toFixed(0):""}</td><td>${esc(t.mode)}</td><td>${esc(t.agent_state)}</td><td>${esc(t.mission_id)}</td></tr>`}).join("");
}
tick().catch(()=>{});setInterval(()=>tick().catch(()=>{}),2000);
</script></body></html>"""


@router.get("/", response_class=HTMLResponse)
async def dashboard() -> str:
    return PAGE
